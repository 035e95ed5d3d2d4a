"""The lake consumer group end to end on the embedded stream: runner -> LakeSink -> Parquet."""

from __future__ import annotations

from pathlib import Path

from streamrec.config import Settings
from streamrec.consumers.lake import IDLE_FLUSH_MIN_RECORDS, LakeSink
from streamrec.consumers.runner import ConsumerRunner
from streamrec.lake import LakeReader
from streamrec.stream import open_event_log
from tests.factories import random_events


def settings_for(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {"data_dir": tmp_path / "data", "shard_count": 3}
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


def test_sink_reports_nothing_safe_until_files_are_written(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    log.append(random_events(300))
    sink = LakeSink.from_settings(settings)
    runner = ConsumerRunner(log, sink, batch_size=100)
    runner.drain()
    assert all(s.committed.get("lake", 0) == 0 for s in log.status(["lake"]))
    runner.close()
    assert [s.lag("lake") for s in log.status(["lake"])] == [0, 0, 0]
    assert LakeReader(settings.lake_location).stats().rows == 300
    log.close()


def test_a_crashed_consumer_replays_without_duplicates(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_flush_bytes=20_000, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    events = random_events(2000)
    log.append(events)
    first = ConsumerRunner(log, LakeSink.from_settings(settings), batch_size=250)
    first.drain()  # some files written by the bytes rule, the rest buffered; then "SIGKILL"
    written = LakeReader(settings.lake_location).stats().rows
    assert 0 < written < 2000

    second = ConsumerRunner(log, LakeSink.from_settings(settings), batch_size=250)
    second.drain()
    second.close()

    reader = LakeReader(settings.lake_location)
    assert reader.stats().rows == 2000
    ids = reader.query("SELECT event_id FROM events_raw").column("event_id").to_pylist()
    assert sorted(ids) == sorted(e.event_id for e in events)
    log.close()


def test_interval_rule_flushes_at_a_checkpoint(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_flush_interval_s=5.0)
    log = open_event_log(settings)
    log.append(random_events(50))
    sink = LakeSink.from_settings(settings)
    consumer = log.consumer("lake")
    sink.write(consumer.poll(1000, 0))
    started = sink.writer.safe_offsets()
    assert sink.checkpoint(now=_time() + 1.0) == started
    safe = sink.checkpoint(now=_time() + 10.0)
    assert sum(safe.values()) == 50
    assert LakeReader(settings.lake_location).stats().rows == 50
    consumer.close()
    log.close()


def _time() -> float:
    import time

    return time.time()


def test_a_burst_is_written_once_the_stream_goes_quiet(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    log.append(random_events(IDLE_FLUSH_MIN_RECORDS))
    sink = LakeSink.from_settings(settings)
    consumer = log.consumer("lake")
    sink.write(consumer.poll(10_000, 0))
    assert sum(sink.checkpoint(now=_time()).values()) == 0  # records came in this interval
    safe = sink.checkpoint(now=_time())  # an interval with nothing new: the burst is over
    assert sum(safe.values()) == IDLE_FLUSH_MIN_RECORDS
    assert LakeReader(settings.lake_location).stats().rows == IDLE_FLUSH_MIN_RECORDS
    consumer.close()
    log.close()


def test_a_trickle_still_waits_for_the_interval(tmp_path: Path) -> None:
    settings = settings_for(tmp_path, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    log.append(random_events(IDLE_FLUSH_MIN_RECORDS - 1))
    sink = LakeSink.from_settings(settings)
    consumer = log.consumer("lake")
    sink.write(consumer.poll(10_000, 0))
    for _ in range(3):
        assert sum(sink.checkpoint(now=_time()).values()) == 0
    assert LakeReader(settings.lake_location).stats().files == 0
    consumer.close()
    log.close()
