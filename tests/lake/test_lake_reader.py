"""The events view (de-duplicated by event_id), read_interactions and stats."""

from __future__ import annotations

from collections.abc import Callable

from streamrec.lake import LakeReader, LakeWriter
from streamrec.stream.base import StreamRecord

RecordFactory = Callable[..., list[StreamRecord]]
DAY0 = 1_704_067_200.0


def write(lake_dir: str, batch: list[StreamRecord]) -> None:
    writer = LakeWriter(lake_dir, 1 << 40, 3600.0)
    writer.add(batch)
    writer.close()


def with_retries(batch: list[StreamRecord], every: int) -> list[StreamRecord]:
    """A client retry: the same event (same event_id) appended again later, at a new offset."""
    heads = {r.shard: r.offset + 1 for r in batch}
    out = list(batch)
    for r in batch[::every]:
        out.append(StreamRecord(r.shard, heads[r.shard], r.event))
        heads[r.shard] += 1
    return out


def test_an_empty_lake_answers_queries(lake_dir: str) -> None:
    reader = LakeReader(lake_dir)
    assert reader.query("SELECT count(*) n FROM events").column("n").to_pylist() == [0]
    assert reader.stats().files == 0


def test_view_keeps_one_row_per_event_id(lake_dir: str, records: RecordFactory) -> None:
    batch = with_retries(records(200, shard_count=2), every=7)
    write(lake_dir, batch)
    reader = LakeReader(lake_dir)
    assert reader.query("SELECT count(*) n FROM events_raw").column("n")[0].as_py() == len(batch)
    distinct = reader.query("SELECT count(DISTINCT event_id) n FROM events").column("n")[0]
    total = reader.query("SELECT count(*) n FROM events").column("n")[0]
    assert distinct.as_py() == total.as_py() == 200


def test_view_keeps_the_first_received_copy(lake_dir: str, records: RecordFactory) -> None:
    batch = with_retries(records(10, shard_count=1), every=1)
    write(lake_dir, batch)
    kept = LakeReader(lake_dir).query('SELECT "offset" FROM events ORDER BY "offset"')
    assert kept.column("offset").to_pylist() == list(range(10))


def test_read_interactions_filters_event_time(lake_dir: str, records: RecordFactory) -> None:
    batch = records(500, shard_count=2, start=DAY0, step_s=600.0)
    write(lake_dir, batch)
    since, until = DAY0 + 86_400, DAY0 + 2 * 86_400
    table = LakeReader(lake_dir).read_interactions(since, until)
    expected = sorted(r.event.event_id for r in batch if since <= r.event.timestamp < until)
    assert table.column_names == [
        "user_id",
        "item_id",
        "timestamp",
        "event_type",
        "event_value",
        "session_id",
    ]
    assert table.num_rows == len(expected)
    times = table.column("timestamp").to_pylist()
    assert times == sorted(times) and all(since <= t < until for t in times)


def test_stats_count_files_rows_and_bytes(lake_dir: str, records: RecordFactory) -> None:
    write(lake_dir, records(300, shard_count=3))
    stats = LakeReader(lake_dir).stats()
    assert (stats.files, stats.rows, stats.days) == (3, 300, 1)
    assert stats.bytes > 0
