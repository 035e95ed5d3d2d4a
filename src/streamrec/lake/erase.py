"""Removing rows from an append-only lake: erasing a user, and compacting a day.

An erase request is first stored as a tombstone (``erasures/*.parquet``: user_id, requested_at).
The reader's ``events`` view hides the user's rows received up to that time at once; rows are then
removed from the files either right away (:func:`erase_user` rewrites every file holding them) or
by the next :func:`compact` of each day. Tombstones stay: the lake consumer may still hold the
user's older events in its buffer and write them after the erase, and compaction must drop those
too. Events the user sends after the request are kept.

Files keep their names when rewritten (a compacted file is named for the whole offset range of the
files it replaces), so the writer's "highest stored offset per shard" is unchanged and a replay
never brings erased rows back. Run one erase or compaction at a time per lake.
"""

from __future__ import annotations

import dataclasses
import time
import uuid

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from streamrec.lake.files import TEMP_PREFIX, LakeFile, LakeFiles
from streamrec.lake.layout import ERASURE_SCHEMA, ERASURES_DIR, SCHEMA, file_name

__all__ = [
    "CompactReport",
    "compact",
    "compact_all",
    "erase_user",
    "forget_erasure",
    "request_erasure",
]

DEFAULT_TARGET_BYTES = 128 * 1024 * 1024
_STALE_TEMP_S = 3600.0


@dataclasses.dataclass(frozen=True)
class CompactReport:
    files_before: int
    files_after: int
    rows_dropped: int


def request_erasure(location: str, user_id: str, now: float | None = None) -> None:
    """Store a tombstone for `user_id`: their rows received until now leave every query at once."""
    files = LakeFiles(location)
    requested_at = time.time() if now is None else now
    table = pa.table(
        {"user_id": [user_id], "requested_at": [int(requested_at * 1e6)]},
    ).cast(ERASURE_SCHEMA)
    name = f"{int(requested_at * 1e6):020d}-{uuid.uuid4().hex}.parquet"
    files.write_table(files.path(ERASURES_DIR, name), table)


def erasures(files: LakeFiles) -> dict[str, int]:
    """user_id -> latest erase request time in epoch microseconds."""
    directory = files.path(ERASURES_DIR)
    if not files.fs.exists(directory):
        return {}
    out: dict[str, int] = {}
    for path in files.fs.ls(directory, detail=False):
        if not path.endswith(".parquet") or path.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
            continue
        table = files.read_table(path).cast(ERASURE_SCHEMA)
        users = table.column("user_id").to_pylist()
        times = table.column("requested_at").cast(pa.int64()).to_pylist()
        for user, at in zip(users, times, strict=True):
            out[user] = max(out.get(user, at), at)
    return out


def erase_user(location: str, user_id: str, now: float | None = None) -> int:
    """Tombstone `user_id` and rewrite every file holding their rows without them; rows removed."""
    request_erasure(location, user_id, now)
    files = LakeFiles(location)
    tombstones = erasures(files)
    removed = 0
    for f in files.list_files():
        if not _holds_erased(files, f, {user_id: tombstones[user_id]}):
            continue
        table = files.read_table(f.path)
        kept = table.filter(pc.invert(_erased_mask(table, {user_id: tombstones[user_id]})))
        if kept.num_rows < table.num_rows:
            files.write_table(f.path, kept.cast(SCHEMA))
            removed += table.num_rows - kept.num_rows
    return removed


def forget_erasure(location: str, user_id: str) -> int:
    """Remove the user's tombstones (which hold their id) once no buffered event of theirs can
    reach the lake any more; return how many files were removed."""
    files = LakeFiles(location)
    directory = files.path(ERASURES_DIR)
    if not files.fs.exists(directory):
        return 0
    removed = 0
    for path in files.fs.ls(directory, detail=False):
        if not path.endswith(".parquet") or path.rsplit("/", 1)[-1].startswith(TEMP_PREFIX):
            continue
        table = files.read_table(path).cast(ERASURE_SCHEMA)
        users = table.column("user_id").to_pylist()
        if user_id not in users:
            continue
        others = table.filter(pc.not_equal(table.column("user_id"), user_id))
        if others.num_rows:
            files.write_table(path, others)
        else:
            files.fs.rm(path)
        removed += 1
    return removed


def compact_all(location: str, target_bytes: int = DEFAULT_TARGET_BYTES) -> CompactReport:
    """Compact every day of the lake."""
    reports = [compact(location, day, target_bytes) for day in LakeFiles(location).days()]
    return CompactReport(
        files_before=sum(r.files_before for r in reports),
        files_after=sum(r.files_after for r in reports),
        rows_dropped=sum(r.rows_dropped for r in reports),
    )


def compact(location: str, day: str, target_bytes: int = DEFAULT_TARGET_BYTES) -> CompactReport:
    """Merge one day's small files, per shard in offset order, into files of about target_bytes;
    drop duplicate event ids (keeping the first received) and erased users' rows on the way.

    Files at or above target_bytes are left as they are (erase_user rewrites those)."""
    files = LakeFiles(location)
    _remove_stale_temps(files, day)
    tombstones = erasures(files)
    day_files = files.list_files(day)
    dropped = 0
    after = 0
    for group in _merge_groups(files, day_files, target_bytes):
        if len(group) == 1 and not _holds_erased(files, group[0], tombstones):
            after += 1
            continue
        dropped += _merge(files, group, tombstones)
        after += 1
    return CompactReport(files_before=len(day_files), files_after=after, rows_dropped=dropped)


def _merge_groups(
    files: LakeFiles, day_files: list[LakeFile], target_bytes: int
) -> list[list[LakeFile]]:
    """Consecutive small files of one shard, cut when the group reaches target_bytes."""
    groups: list[list[LakeFile]] = []
    current: list[LakeFile] = []
    size = 0
    for f in sorted(day_files, key=lambda f: f.name):
        f_size = files.size(f.path)
        starts_new = not current or current[0].name.shard != f.name.shard or size >= target_bytes
        if f_size >= target_bytes or starts_new:
            if current:
                groups.append(current)
            current, size = [], 0
        current.append(f)
        size += f_size
    if current:
        groups.append(current)
    return groups


def _holds_erased(files: LakeFiles, f: LakeFile, tombstones: dict[str, int]) -> bool:
    if not tombstones:
        return False
    users = files.read_table(f.path, columns=["user_id", "received_at"])
    return bool(pc.any(_erased_mask(users, tombstones)).as_py())


def _merge(files: LakeFiles, group: list[LakeFile], tombstones: dict[str, int]) -> int:
    """Write the group as one file named for its whole offset range, then remove the others."""
    table = pa.concat_tables([files.read_table(f.path).cast(SCHEMA) for f in group])
    rows = int(table.num_rows)
    if tombstones:
        table = table.filter(pc.invert(_erased_mask(table, tombstones)))
    table = first_per_event_id(table)
    first, last = group[0].name, group[-1].name
    directory = group[0].path.rsplit("/", 1)[0]
    target = f"{directory}/{file_name(first.shard, first.first, last.last)}"
    files.write_table(target, table)
    files.remove([f.path for f in group if f.path != target])
    return rows - int(table.num_rows)


def first_per_event_id(table: pa.Table) -> pa.Table:
    """One row per event_id, the first received (then lowest shard, offset), in offset order."""
    ordered = table.sort_by(
        [("received_at", "ascending"), ("shard", "ascending"), ("offset", "ascending")]
    )
    indexed = ordered.append_column("_row", pa.array(np.arange(ordered.num_rows, dtype=np.int64)))
    firsts = indexed.group_by("event_id", use_threads=False).aggregate([("_row", "min")])
    keep = np.sort(np.asarray(firsts.column("_row_min")))
    return ordered.take(pa.array(keep)).sort_by([("shard", "ascending"), ("offset", "ascending")])


def _erased_mask(table: pa.Table, tombstones: dict[str, int]) -> pa.ChunkedArray:
    """True for rows of a tombstoned user received at or before their erase request."""
    users = table.column("user_id")
    received = np.asarray(table.column("received_at").cast(pa.int64()).fill_null(0))
    mask = np.zeros(table.num_rows, dtype=bool)
    hit = np.asarray(pc.is_in(users, pa.array(list(tombstones), pa.string())).fill_null(False))
    if not hit.any():
        return pa.chunked_array([pa.array(mask)])
    user_list = np.asarray(users.to_numpy(zero_copy_only=False), dtype=object)
    for user, at in tombstones.items():
        mask |= hit & (user_list == user) & (received <= at)
    return pa.chunked_array([pa.array(mask)])


def _remove_stale_temps(files: LakeFiles, day: str) -> None:
    """Temporary files older than an hour were left by a crashed writer: no one will rename them."""
    directory = files.path("events", f"dt={day}")
    if not files.is_local or not files.fs.exists(directory):
        return
    cutoff = time.time() - _STALE_TEMP_S
    for info in files.fs.ls(directory, detail=True):
        base = str(info["name"]).rsplit("/", 1)[-1]
        if base.startswith(TEMP_PREFIX) and float(info.get("mtime", cutoff)) < cutoff:
            files.fs.rm(info["name"])
