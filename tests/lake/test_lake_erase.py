"""Erasing a user and compacting a day."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from streamrec.lake import LakeReader, LakeWriter, compact, compact_all, erase_user
from streamrec.lake.erase import request_erasure
from streamrec.stream.base import StreamRecord

RecordFactory = Callable[..., list[StreamRecord]]


def write(lake_dir: str, batch: list[StreamRecord], flush_every: int = 0) -> None:
    writer = LakeWriter(lake_dir, 1 << 40, 3600.0)
    step = flush_every or len(batch)
    for start in range(0, len(batch), step):
        writer.add(batch[start : start + step])
        writer.flush()
    writer.close()


def names(lake_dir: str) -> list[str]:
    return sorted(p.name for p in Path(lake_dir).glob("events/dt=*/shard=*.parquet"))


def rows_of(lake_dir: str, user: str, table: str = "events_raw") -> int:
    sql = f"SELECT count(*) n FROM {table} WHERE user_id = ?"
    return int(LakeReader(lake_dir).query(sql, [user]).column("n")[0].as_py())


def test_erase_user_removes_their_rows_and_keeps_file_names(
    lake_dir: str, records: RecordFactory
) -> None:
    batch = records(400, shard_count=2, users=5)
    write(lake_dir, batch, flush_every=50)
    before = names(lake_dir)
    victim = batch[0].event.user_id
    removed = erase_user(lake_dir, victim, now=batch[-1].event.received_at + 1)
    assert removed == sum(r.event.user_id == victim for r in batch)
    assert rows_of(lake_dir, victim) == 0
    assert names(lake_dir) == before
    assert LakeReader(lake_dir).stats().rows == 400 - removed


def test_erased_rows_leave_queries_before_compaction(lake_dir: str, records: RecordFactory) -> None:
    batch = records(100, shard_count=1, users=3)
    write(lake_dir, batch)
    victim = batch[0].event.user_id
    request_erasure(lake_dir, victim, now=batch[-1].event.received_at + 1)
    assert rows_of(lake_dir, victim, "events_raw") > 0
    assert rows_of(lake_dir, victim, "events") == 0


def test_events_after_the_erase_request_are_kept(lake_dir: str, records: RecordFactory) -> None:
    batch = records(100, shard_count=1, users=3)
    victim = batch[0].event.user_id
    cut = batch[50].event.received_at
    write(lake_dir, batch)
    erase_user(lake_dir, victim, now=cut)
    later = sum(r.event.user_id == victim and r.event.received_at > cut for r in batch)
    assert later > 0
    assert rows_of(lake_dir, victim, "events") == later


def test_compaction_merges_small_files_and_drops_duplicates_and_erased(
    lake_dir: str, records: RecordFactory
) -> None:
    batch = records(600, shard_count=2, users=6)
    heads = {r.shard: r.offset + 1 for r in batch}
    retries = []
    for r in batch[::10]:
        retries.append(StreamRecord(r.shard, heads[r.shard], r.event))
        heads[r.shard] += 1
    write(lake_dir, batch + retries, flush_every=40)
    victim = batch[3].event.user_id
    request_erasure(lake_dir, victim, now=batch[-1].event.received_at + 1)
    files_before = len(names(lake_dir))

    report = compact_all(lake_dir)

    assert report.files_before == files_before
    assert report.files_after == len(names(lake_dir)) == 2  # one file per shard
    victim_rows = sum(r.event.user_id == victim for r in batch)
    assert report.rows_dropped == len(retries) + victim_rows  # every retry, every victim row
    stats = LakeReader(lake_dir).stats()
    assert stats.rows == 600 - victim_rows
    # The writer still knows every offset is stored: a replay adds nothing.
    writer = LakeWriter(lake_dir, 1 << 40, 3600.0)
    assert writer.stored_positions() == heads
    writer.add(batch + retries)
    writer.close()
    assert LakeReader(lake_dir).stats().rows == stats.rows


def test_compacting_a_tidy_day_changes_nothing(lake_dir: str, records: RecordFactory) -> None:
    batch = records(100, shard_count=2)
    write(lake_dir, batch)
    before = names(lake_dir)
    day = Path(lake_dir, "events").iterdir().__next__().name.removeprefix("dt=")
    report = compact(lake_dir, day)
    assert (report.files_before, report.files_after, report.rows_dropped) == (2, 2, 0)
    assert names(lake_dir) == before
