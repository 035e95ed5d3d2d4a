"""The recorder batches records off the request path, flushes on close, and never raises."""

from __future__ import annotations

import time
from pathlib import Path

from streamrec.attribution.recorder import RecommendationRecorder
from streamrec.attribution.records import Served, served_of
from streamrec.config import Settings
from streamrec.serving.service import Recommendations
from streamrec.stream import open_event_log

RESULT = Recommendations("item-knn", "v1", [("a", 1.0), ("b", 0.5)])


def read_all(settings: Settings) -> list[Served]:
    log = open_event_log(settings)
    try:
        reader = log.reader({})
        records = reader.poll(1000, 0.5)
        reader.close()
        return [served_of(r.event) for r in records]
    finally:
        log.close()


def test_records_are_written_in_batches_and_on_close(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    log = open_event_log(settings)
    recorder = RecommendationRecorder(log, "default", flush_interval_s=60.0)  # only on close
    for k in range(3):
        recorder.record("rank", RESULT, f"u{k}", variant=("exp", "B"), campaign="new")
    time.sleep(0.1)
    assert recorder.recorded == 0  # still buffered: no write per request
    recorder.close()
    log.close()
    served = read_all(settings)
    assert [(s.user_id, s.campaign, s.variant, s.items) for s in served] == [
        (f"u{k}", "new", "B", ["a", "b"]) for k in range(3)
    ]
    assert recorder.recorded == 3


def test_a_closed_stream_drops_without_raising(tmp_path: Path) -> None:
    log = open_event_log(Settings(data_dir=tmp_path))
    log.close()
    recorder = RecommendationRecorder(log, "default", flush_interval_s=0.01)
    recorder.record("recommendations", RESULT, "u1")
    recorder.close()
    assert (recorder.recorded, recorder.dropped) == (0, 1)


def test_switched_off_records_nothing(tmp_path: Path) -> None:
    log = open_event_log(Settings(data_dir=tmp_path))
    recorder = RecommendationRecorder(log, "default", enabled=False)
    recorder.record("recommendations", RESULT, "u1")
    recorder.close()
    log.close()
    assert recorder.recorded == 0 and read_all(Settings(data_dir=tmp_path)) == []
