"""Readiness of the consumer groups, for /healthz.

A group is *not ready* when

- its thread in this process has ended (it should only end on shutdown),
- it has been failing without a success for longer than ``consumer_stall_s``, or
- its lag (summed over shards) has not come down for longer than ``consumer_stall_s``: the
  lag is above zero and no observation since then was lower than the one before it.

The lag rule also covers groups that run in another process (``streamrec consume``): the
stream's committed offsets are shared, the threads are not.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence

from streamrec.consumers.runner import ConsumerRunner


@dataclasses.dataclass
class _LagSeen:
    lag: int
    came_down_at: float


class LagWatch:
    """Per group, when its lag last came down (or was zero)."""

    def __init__(self) -> None:
        self._seen: dict[str, _LagSeen] = {}
        self._lock = threading.Lock()

    def stalled_for(self, group: str, lag: int, now: float) -> float:
        """Record an observation; return for how long the lag has not come down."""
        with self._lock:
            seen = self._seen.get(group)
            if seen is None or lag == 0 or lag < seen.lag:
                self._seen[group] = _LagSeen(lag, now)
                return 0.0
            seen.lag = lag
            return now - seen.came_down_at


@dataclasses.dataclass(frozen=True)
class RunningGroup:
    runner: ConsumerRunner
    thread: threading.Thread


def runner_problem(group: RunningGroup, now: float, stall_s: float) -> str | None:
    runner = group.runner
    if not group.thread.is_alive():
        return "dead: its consumer thread has stopped"
    since = runner.failing_since
    if since is not None and now - since > stall_s:
        return f"failing for {now - since:.0f} s ({runner.last_error})"
    return None


def consumer_problems(
    running: Sequence[RunningGroup],
    lags: Mapping[str, int],
    watch: LagWatch,
    now: float,
    stall_s: float,
) -> dict[str, str]:
    """Group -> what is wrong with it; empty when every group is ready."""
    problems: dict[str, str] = {}
    for group, lag in lags.items():
        stalled = watch.stalled_for(group, lag, now)
        if stalled > stall_s:
            problems[group] = f"lag of {lag} events has not come down for {stalled:.0f} s"
    for running_group in running:
        problem = runner_problem(running_group, now, stall_s)
        if problem is not None:
            problems[running_group.runner.group] = problem
    return problems
