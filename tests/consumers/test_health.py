"""Consumer readiness: events waiting on a group that makes no progress, failing and dead runner
threads."""

from __future__ import annotations

import threading
from pathlib import Path

from streamrec.consumers.health import GroupPosition, LagWatch, RunningGroup, consumer_problems
from streamrec.consumers.runner import ConsumerRunner
from streamrec.stream.sqlite import SqliteEventLog
from tests.consumers.test_runner import RecordingSink


def at(lag: int, committed: int) -> GroupPosition:
    return GroupPosition(lag, committed)


def test_a_group_that_commits_nothing_is_stalled_from_its_last_progress() -> None:
    watch = LagWatch()
    assert watch.stalled_for("g", at(10, 5), now=100.0) == 0.0
    assert watch.stalled_for("g", at(12, 5), now=110.0) == 10.0  # more waiting, none committed
    assert watch.stalled_for("g", at(12, 5), now=130.0) == 30.0
    assert watch.stalled_for("g", at(11, 5), now=131.0) == 0.0  # it came down: the clock restarts
    assert watch.stalled_for("g", at(50, 5), now=140.0) == 9.0
    assert watch.stalled_for("g", at(0, 5), now=500.0) == 0.0
    assert watch.stalled_for("other", at(5, 0), now=500.0) == 0.0


def test_a_steady_trickle_keeps_a_working_group_ready() -> None:
    """An event arrives just before each probe: the lag reads 1 every time, but the group
    committed the one before it in between."""
    watch = LagWatch()
    for probe in range(10):
        assert watch.stalled_for("g", at(1, probe), now=20.0 * probe) == 0.0


def test_a_group_that_progresses_while_falling_behind_stays_ready() -> None:
    watch = LagWatch()
    for probe in range(10):
        assert watch.stalled_for("g", at(1000 * probe, 10 * probe), now=60.0 * probe) == 0.0


def test_problems_name_the_group_and_why(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    runner = ConsumerRunner(log, RecordingSink())
    finished = threading.Thread(target=lambda: None)
    finished.start()
    finished.join()
    watch = LagWatch()
    assert consumer_problems([], {"history": at(3, 7)}, watch, now=0.0, stall_s=60.0) == {}
    problems = consumer_problems(
        [RunningGroup(runner, finished)], {"history": at(4, 7)}, watch, now=61.0, stall_s=60.0
    )
    assert problems["rec"].startswith("dead")
    assert problems["history"] == "lag of 4 events, and nothing processed for 61 s"
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
