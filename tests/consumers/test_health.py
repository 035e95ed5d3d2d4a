"""Consumer readiness: lag that does not come down, failing and dead runner threads."""

from __future__ import annotations

import threading
from pathlib import Path

from streamrec.consumers.health import LagWatch, RunningGroup, consumer_problems
from streamrec.consumers.runner import ConsumerRunner
from streamrec.stream.sqlite import SqliteEventLog
from tests.consumers.test_runner import RecordingSink


def test_lag_that_keeps_growing_is_stalled_from_its_last_decrease() -> None:
    watch = LagWatch()
    assert watch.stalled_for("g", 10, now=100.0) == 0.0
    assert watch.stalled_for("g", 12, now=110.0) == 10.0
    assert watch.stalled_for("g", 12, now=130.0) == 30.0
    assert watch.stalled_for("g", 11, now=131.0) == 0.0  # it came down: the clock restarts
    assert watch.stalled_for("g", 50, now=140.0) == 9.0
    assert watch.stalled_for("g", 0, now=500.0) == 0.0
    assert watch.stalled_for("other", 5, now=500.0) == 0.0


def test_problems_name_the_group_and_why(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    runner = ConsumerRunner(log, RecordingSink())
    finished = threading.Thread(target=lambda: None)
    finished.start()
    finished.join()
    watch = LagWatch()
    assert consumer_problems([], {"history": 3}, watch, now=0.0, stall_s=60.0) == {}
    problems = consumer_problems(
        [RunningGroup(runner, finished)], {"history": 4}, watch, now=61.0, stall_s=60.0
    )
    assert problems["rec"].startswith("dead")
    assert problems["history"].startswith("lag of 4 events has not come down for 61 s")
    runner.close()
    log.close()


def test_a_runner_failing_for_longer_than_the_stall_time_is_a_problem(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    runner = ConsumerRunner(log, RecordingSink())
    runner.failing_since, runner.last_error = 10.0, "OperationalError: disk I/O error"
    alive = threading.Thread(target=threading.Event().wait, args=(5,), daemon=True)
    alive.start()
    group = RunningGroup(runner, alive)
    assert consumer_problems([group], {}, LagWatch(), now=20.0, stall_s=60.0) == {}
    problems = consumer_problems([group], {}, LagWatch(), now=80.0, stall_s=60.0)
    assert problems == {"rec": "failing for 70 s (OperationalError: disk I/O error)"}
    runner.close()
    log.close()
