"""Flush rules (bytes, interval, close), the file layout, and replay after a crash."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq

from streamrec.lake import LakeReader, LakeWriter
from streamrec.lake.layout import parse_file_name
from streamrec.stream.base import StreamRecord

RecordFactory = Callable[..., list[StreamRecord]]

BIG = 1 << 40
DAY0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z


def lake_files(lake_dir: str) -> list[Path]:
    return sorted(Path(lake_dir).glob("events/dt=*/shard=*.parquet"))


class FakeClock:
    def __init__(self, now: float = DAY0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_nothing_is_written_before_a_rule_fires(lake_dir: str, records: RecordFactory) -> None:
    clock = FakeClock()
    writer = LakeWriter(lake_dir, BIG, 60.0, clock)
    writer.add(records(100))
    clock.now += 59.0
    assert writer.flush_due() == 0
    assert lake_files(lake_dir) == []
    assert writer.buffered_bytes() > 0


def test_interval_flushes_each_shard_once_its_oldest_record_is_due(
    lake_dir: str, records: RecordFactory
) -> None:
    clock = FakeClock()
    writer = LakeWriter(lake_dir, BIG, 60.0, clock)
    writer.add(records(100, shard_count=2))
    clock.now += 60.0
    assert writer.flush_due() == 2
    assert len(lake_files(lake_dir)) == 2
    assert writer.buffered_bytes() == 0


def test_bytes_rule_writes_as_soon_as_the_buffer_is_full(
    lake_dir: str, records: RecordFactory
) -> None:
    writer = LakeWriter(lake_dir, 20_000, 3600.0, FakeClock())
    batch = records(2000, shard_count=1)
    for start in range(0, 2000, 100):
        writer.add(batch[start : start + 100])
    files = lake_files(lake_dir)
    assert len(files) >= 2
    # Every file but the buffer's remainder reached the threshold in memory: none is tiny.
    sizes = [pq.ParquetFile(f).metadata.num_rows for f in files]
    assert min(sizes) >= 100
    writer.close()
    assert sum(pq.ParquetFile(f).metadata.num_rows for f in lake_files(lake_dir)) == 2000


def test_close_writes_everything_and_reports_safe_offsets(
    lake_dir: str, records: RecordFactory
) -> None:
    batch = records(300, shard_count=3)
    writer = LakeWriter(lake_dir, BIG, 3600.0, FakeClock())
    writer.add(batch)
    heads = {r.shard: r.offset + 1 for r in batch}
    first = {s: min(r.offset for r in batch if r.shard == s) for s in heads}
    assert writer.safe_offsets() == first  # nothing durable yet: commit nothing past the buffer
    assert writer.close() == heads
    assert LakeReader(lake_dir).stats().rows == 300


def test_file_names_carry_shard_and_offset_range(lake_dir: str, records: RecordFactory) -> None:
    batch = records(50, shard_count=2)
    writer = LakeWriter(lake_dir, BIG, 3600.0, FakeClock())
    writer.add(batch)
    writer.close()
    for path in lake_files(lake_dir):
        name = parse_file_name(path.name)
        assert name is not None
        offsets = pq.read_table(path).column("offset").to_pylist()
        shards = set(pq.read_table(path).column("shard").to_pylist())
        assert shards == {name.shard}
        assert (offsets[0], offsets[-1]) == (name.first, name.last)
        assert offsets == sorted(offsets)


def test_a_buffer_spanning_midnight_goes_to_two_days(lake_dir: str, records: RecordFactory) -> None:
    batch = records(20, shard_count=1, start=DAY0 - 10.0, step_s=1.0)
    writer = LakeWriter(lake_dir, BIG, 3600.0, FakeClock())
    writer.add(batch)
    writer.close()
    days = [p.parent.name for p in lake_files(lake_dir)]
    assert days == ["dt=2023-12-31", "dt=2024-01-01"]
    rows = LakeReader(lake_dir).query("SELECT dt, count(*) n FROM events GROUP BY dt ORDER BY dt")
    assert rows.column("n").to_pylist() == [10, 10]


def test_replay_after_a_crash_stores_every_event_exactly_once(
    lake_dir: str, records: RecordFactory
) -> None:
    batch = records(1000, shard_count=3)
    clock = FakeClock()
    first = LakeWriter(lake_dir, 8_000, 5.0, clock)
    first.add(batch[:400])
    clock.now += 10
    first.flush_due()
    first.add(batch[400:700])  # buffered, then the process dies: no close()
    del first

    second = LakeWriter(lake_dir, 8_000, 5.0, clock)
    for start in range(0, 1000, 128):  # the stream replays from offset 0
        second.add(batch[start : start + 128])
    second.close()

    raw = LakeReader(lake_dir).query(
        'SELECT shard, "offset", count(*) n FROM events_raw GROUP BY ALL HAVING n > 1'
    )
    assert raw.num_rows == 0
    stored = LakeReader(lake_dir).query("SELECT event_id FROM events_raw")
    assert sorted(stored.column("event_id").to_pylist()) == sorted(r.event.event_id for r in batch)


def test_a_new_writer_learns_positions_from_file_names(
    lake_dir: str, records: RecordFactory
) -> None:
    batch = records(100, shard_count=2)
    writer = LakeWriter(lake_dir, BIG, 3600.0, FakeClock())
    writer.add(batch)
    writer.close()
    heads = {r.shard: r.offset + 1 for r in batch}
    assert LakeWriter(lake_dir, BIG, 3600.0).stored_positions() == heads


def test_every_event_field_survives_the_round_trip(lake_dir: str, records: RecordFactory) -> None:
    batch = records(30, shard_count=1)
    writer = LakeWriter(lake_dir, BIG, 3600.0, FakeClock())
    writer.add(batch)
    writer.close()
    table = LakeReader(lake_dir).query('SELECT * FROM events ORDER BY "offset"')
    for record, row in zip(batch, table.to_pylist(), strict=True):
        e = record.event
        assert row["event_id"] == e.event_id
        assert (row["user_id"], row["item_id"]) == (e.user_id, e.item_id)
        assert (row["event_type"], row["event_value"]) == (e.event_type, e.event_value)
        assert row["session_id"] == e.session_id
        assert row["impression"] == e.impression
        assert abs(row["timestamp"].timestamp() - e.timestamp) < 1e-5
        assert abs(row["received_at"].timestamp() - e.received_at) < 1e-5
        assert (row["properties"] is None) == (e.properties is None)
        assert (row["shard"], row["offset"]) == (record.shard, record.offset)
