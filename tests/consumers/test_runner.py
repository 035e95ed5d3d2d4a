"""The runner loop: commits on checkpoints only, resumes from the commit, survives outages."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pytest

from streamrec.consumers.runner import ConsumerRunner, backoff_delay, start_in_thread
from streamrec.consumers.store_sink import StoreSink, next_offsets
from streamrec.errors import StoreUnavailable
from streamrec.stores.sqlite_history import SqliteHistoryStore
from streamrec.stream.base import StreamRecord
from streamrec.stream.sqlite import SqliteEventLog
from tests.factories import random_events


class RecordingSink:
    group = "rec"

    def __init__(self, fail_first: int = 0, error: Exception | None = None) -> None:
        self.records: list[StreamRecord] = []
        self.fail_first = fail_first
        self.error = error or StoreUnavailable("down")

    def write(self, records: Sequence[StreamRecord]) -> None:
        if self.fail_first:
            self.fail_first -= 1
            raise self.error
        self.records.extend(records)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        return next_offsets(self.records)

    def close(self) -> Mapping[int, int]:
        return next_offsets(self.records)


def test_next_offsets_per_shard() -> None:
    events = random_events(3)
    recs = [
        StreamRecord(0, 4, events[0]),
        StreamRecord(1, 2, events[1]),
        StreamRecord(0, 9, events[2]),
    ]
    assert next_offsets(recs) == {0: 10, 1: 3}


def test_commits_only_on_checkpoint(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 2)
    log.append(random_events(100))
    sink = RecordingSink()
    runner = ConsumerRunner(log, sink, batch_size=10, checkpoint_interval_s=3600)
    runner.run_once()
    assert all(s.committed.get("rec", 0) == 0 for s in log.status())
    runner.drain()
    assert sum(s.committed["rec"] for s in log.status()) == 100
    log.close()


def test_restarted_group_with_store_sink_applies_each_event_once(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 2)
    store = SqliteHistoryStore(tmp_path / "h.db", 30)
    log.append(random_events(200))
    runner = ConsumerRunner(
        log, StoreSink("history", store), batch_size=50, checkpoint_interval_s=3600
    )
    runner.run_once()  # applied a batch, but never committed: a crash here replays it
    again = ConsumerRunner(log, StoreSink("history", store), batch_size=50)
    again.drain()
    total = sum(e.count for u in range(50) for e in store.recent(f"u{u}", 500))
    assert total == 200
    store.close()
    log.close()


def test_outage_is_retried_not_fatal(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append(random_events(5))
    sink = RecordingSink(fail_first=1)
    runner = ConsumerRunner(log, sink, poll_timeout_s=0.01)
    stop = threading.Event()
    thread = start_in_thread(runner, stop)
    deadline = threading.Event()
    for _ in range(100):
        if len(sink.records) == 5:
            break
        deadline.wait(0.05)
    stop.set()
    thread.join(5)
    log.close()
    assert len({r.offset for r in sink.records}) == 5


def wait_for(check: Callable[[], bool], rounds: int = 200) -> None:
    """Poll `check` (up to 10 s); the caller asserts on the state it reached."""
    pause = threading.Event()
    for _ in range(rounds):
        if check():
            return
        pause.wait(0.05)


@pytest.mark.parametrize(
    "error", [sqlite3.OperationalError("disk I/O error"), KeyError("a bug in a sink")]
)
def test_any_failure_is_logged_counted_and_retried(
    tmp_path: Path, error: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append(random_events(5))
    sink = RecordingSink(fail_first=3, error=error)
    runner = ConsumerRunner(log, sink, poll_timeout_s=0.01, backoff_first_s=0.01)
    stop = threading.Event()
    thread = start_in_thread(runner, stop)
    wait_for(lambda: len(sink.records) == 5)
    alive = thread.is_alive()
    stop.set()
    thread.join(5)
    log.close()
    assert alive and len({r.offset for r in sink.records}) == 5
    assert runner.failures == {type(error).__name__: 3}
    assert runner.failing_since is None and runner.consecutive_failures == 0
    assert "consumer rec failed" in caplog.text


def test_backoff_doubles_up_to_its_cap() -> None:
    delays = [backoff_delay(n, 0.5, 30.0) for n in range(1, 10)]
    assert delays == [0.5, 1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0, 30.0]
    assert backoff_delay(10_000, 0.5, 30.0) == 30.0
