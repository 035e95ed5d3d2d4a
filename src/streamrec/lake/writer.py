"""LakeWriter: buffer stream records per shard and write them as Parquet files (the Firehose part).

A shard's buffer is written when its in-memory (Arrow) size reaches ``flush_bytes``, when its
oldest record has waited ``flush_interval_s``, and on close, whichever comes first. The Arrow size
is close to the records' raw size; the Parquet file is several times smaller after compression.

Idempotence: on start the writer learns, per shard, the highest offset already stored (from the
file names) and drops records at or below it, so a replay from any earlier offset (the consumer
group's last commit, or 0) stores each record exactly once. Files are written in offset order and
each one atomically, so "highest stored offset" always means "every earlier offset is stored".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence, Set

import msgspec
import numpy as np
import pyarrow as pa

from streamrec.consumers.erased import user_digest
from streamrec.lake.files import LakeFiles
from streamrec.lake.layout import SCHEMA, day_dir, file_name
from streamrec.stream.base import StreamRecord

__all__ = ["LakeWriter", "records_to_batch"]

_US_PER_DAY = 86_400_000_000
_json = msgspec.json.Encoder()


def _micros(seconds: list[float]) -> pa.Array:
    us = np.rint(np.asarray(seconds, dtype=np.float64) * 1e6).astype(np.int64)
    return pa.array(us, type=SCHEMA.field("timestamp").type)


def records_to_batch(records: Sequence[StreamRecord]) -> pa.RecordBatch:
    """Stream records as one Arrow batch in the lake schema: one pass per column."""
    events = [r.event for r in records]
    columns = [
        pa.array([e.event_id for e in events], pa.string()),
        pa.array([e.user_id for e in events], pa.string()),
        pa.array([e.item_id for e in events], pa.string()),
        pa.array([e.event_type for e in events], pa.string()),
        pa.array([e.event_value for e in events], pa.float64()),
        pa.array([e.session_id for e in events], pa.string()),
        _micros([e.timestamp for e in events]),
        _micros([e.received_at for e in events]),
        pa.array(
            [None if e.properties is None else _json.encode(e.properties).decode() for e in events],
            pa.string(),
        ),
        pa.array([e.impression for e in events], pa.list_(pa.string())),
        pa.array([e.recommendation_id for e in events], pa.string()),
        pa.array([r.shard for r in records], pa.int32()),
        pa.array([r.offset for r in records], pa.int64()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=SCHEMA)


class _ShardBuffer:
    __slots__ = ("batches", "nbytes", "started")

    def __init__(self, started: float) -> None:
        self.batches: list[pa.RecordBatch] = []
        self.nbytes = 0
        self.started = started

    def add(self, batch: pa.RecordBatch) -> None:
        self.batches.append(batch)
        self.nbytes += batch.nbytes

    def first_offset(self) -> int:
        return int(self.batches[0].column("offset")[0].as_py())


class LakeWriter:
    """Writes one lake's files; one writer per shard at a time (writers may split the shards)."""

    def __init__(
        self,
        location: str,
        flush_bytes: int,
        flush_interval_s: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._files = LakeFiles(location)
        self._flush_bytes = flush_bytes
        self._flush_interval_s = flush_interval_s
        self._clock = clock
        self._stored = self.stored_positions()
        self._seen: dict[int, int] = {}
        self._buffers: dict[int, _ShardBuffer] = {}
        self._released: set[int] = set()
        self.files_written = 0
        self.rows_written = 0

    def stored_positions(self) -> dict[int, int]:
        """Per shard, the next offset not yet in the lake, learned from the file names."""
        out: dict[int, int] = {}
        for f in self._files.list_files():
            out[f.name.shard] = max(out.get(f.name.shard, 0), f.name.last + 1)
        return out

    def add(self, records: Sequence[StreamRecord], now: float | None = None) -> None:
        """Buffer records not yet stored; write a shard's buffer once it reaches flush_bytes."""
        if not records:
            return
        now = self._clock() if now is None else now
        batch = records_to_batch(records)
        shards = np.asarray(batch.column("shard"))
        offsets = np.asarray(batch.column("offset"))
        for shard in np.unique(shards).tolist():
            self._add_shard(batch, shards == shard, offsets, shard, now)

    def release(self, shards: Set[int]) -> None:
        """Drop the buffers of shards another writer now owns; if one comes back, where the
        lake stands for it is read again from the file names (the other writer added files)."""
        for shard in shards:
            self._buffers.pop(shard, None)
            self._seen.pop(shard, None)
        self._released |= set(shards)

    def _add_shard(
        self, batch: pa.RecordBatch, mask: np.ndarray, offsets: np.ndarray, shard: int, now: float
    ) -> None:
        if shard in self._released:
            self._released.discard(shard)
            self._stored[shard] = self.stored_positions().get(shard, 0)
        floor = max(self._stored.get(shard, 0), self._seen.get(shard, 0))
        keep = mask & (offsets >= floor)
        self._seen[shard] = max(floor, int(offsets[mask].max()) + 1)
        if not keep.any():
            return
        buffer = self._buffers.setdefault(shard, _ShardBuffer(now))
        buffer.add(batch.filter(pa.array(keep)))
        if buffer.nbytes >= self._flush_bytes:
            self._flush_shard(shard)

    def flush_due(self, now: float | None = None) -> int:
        """Write each buffer whose oldest record waited flush_interval_s; returns files written."""
        now = self._clock() if now is None else now
        due = [s for s, b in self._buffers.items() if now - b.started >= self._flush_interval_s]
        return sum(self._flush_shard(s) for s in due)

    def flush(self) -> int:
        """Write every buffer now; returns the number of files written."""
        return sum(self._flush_shard(s) for s in list(self._buffers))

    def _flush_shard(self, shard: int) -> int:
        buffer = self._buffers.pop(shard)
        table = pa.Table.from_batches(buffer.batches, schema=SCHEMA).combine_chunks()
        written = 0
        for start, stop, day in _day_runs(table):
            try:
                self._write_run(shard, table.slice(start, stop - start), day)
            except BaseException:
                self._rebuffer(shard, table.slice(start), buffer.started)
                raise
            written += 1
        return written

    def _write_run(self, shard: int, run: pa.Table, day: str) -> None:
        offsets = run.column("offset")
        first, last = int(offsets[0].as_py()), int(offsets[-1].as_py())
        path = f"{day_dir(self._files.root, day)}/{file_name(shard, first, last)}"
        self._files.write_table(path, run)
        self._stored[shard] = last + 1
        self.files_written += 1
        self.rows_written += run.num_rows

    def _rebuffer(self, shard: int, rest: pa.Table, started: float) -> None:
        buffer = _ShardBuffer(started)
        for batch in rest.to_batches():
            buffer.add(batch)
        self._buffers[shard] = buffer

    def forget(self, users: Mapping[int, Mapping[str, int]]) -> int:
        """Drop buffered rows of erased users: per shard, user-id digest -> the offset below
        which their rows go (see streamrec.consumers.erased); returns the rows dropped."""
        dropped = 0
        for shard, upto in users.items():
            buffer = self._buffers.get(shard)
            if buffer is None:
                continue
            table = pa.Table.from_batches(buffer.batches, schema=SCHEMA)
            digests = {u: user_digest(u) for u in set(table.column("user_id").to_pylist())}
            limits = [upto.get(digests[u], 0) for u in table.column("user_id").to_pylist()]
            gone = np.asarray(table.column("offset")) < np.asarray(limits, dtype=np.int64)
            if not gone.any():
                continue
            dropped += int(gone.sum())
            kept = table.filter(pa.array(~gone))
            if kept.num_rows:
                self._rebuffer(shard, kept, buffer.started)
            else:
                del self._buffers[shard]
        return dropped

    def seen_offsets(self) -> dict[int, int]:
        """Per shard, the next offset after every record this writer was given."""
        return dict(self._seen)

    def safe_offsets(self) -> dict[int, int]:
        """Per shard seen by this writer: the next offset before which everything is in the lake."""
        out = dict(self._seen)
        for shard, buffer in self._buffers.items():
            out[shard] = buffer.first_offset()
        return out

    def buffered_bytes(self) -> int:
        return sum(b.nbytes for b in self._buffers.values())

    def close(self) -> dict[int, int]:
        """Write what is buffered; returns the final safe offsets."""
        self.flush()
        return self.safe_offsets()


def _day_runs(table: pa.Table) -> list[tuple[int, int, str]]:
    """Maximal runs of consecutive rows with the same received_at date: (start, stop, YYYY-MM-DD).

    Runs rather than a group-by keep each file one contiguous offset range, written in order."""
    micros = np.asarray(table.column("received_at").cast(pa.int64()))
    days = micros // _US_PER_DAY
    cuts = np.flatnonzero(np.diff(days)) + 1
    starts = [0, *cuts.tolist()]
    stops = [*cuts.tolist(), len(days)]
    names = np.asarray(days[starts], dtype="datetime64[D]").astype(str)
    return list(zip(starts, stops, names.tolist(), strict=True))
