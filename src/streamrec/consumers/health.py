"""Readiness of the consumer groups, for /healthz.

A group is *not ready* when

- its thread in this process has ended (it should only end on shutdown),
- it has been failing without a success for longer than ``consumer_stall_s``, or
- events have been waiting for it (lag above zero) for longer than ``consumer_stall_s`` without
  the group making any progress: its committed offsets (summed over shards) have not moved and
  its lag has not come down.

Progress is judged by the committed offsets, not by the lag seen at each probe: under a steady
trickle of events a healthy group shows the same small lag at every probe (an event arrives just
before it), yet commits in between. A group that progresses but falls behind under load stays
ready (taking it out of a load balancer would not help it catch up); its lag is in /metrics.

The rule also covers groups that run in another process (``streamrec consume``): the stream's
committed offsets are shared, the threads are not.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping, Sequence

from streamrec.consumers.runner import ConsumerRunner


@dataclasses.dataclass(frozen=True)
class GroupPosition:
    """A group's position at one probe: its lag and its committed offsets, summed over shards."""

    lag: int
    committed: int


@dataclasses.dataclass
class _Progress:
    seen: GroupPosition
    progressed_at: float


class LagWatch:
    """Per group, when it last made progress (or had nothing to do)."""

    def __init__(self) -> None:
        self._seen: dict[str, _Progress] = {}
        self._lock = threading.Lock()

    def stalled_for(self, group: str, position: GroupPosition, now: float) -> float:
        """Record an observation; return for how long the group has had events waiting
        without committing any or its lag coming down."""
        with self._lock:
            last = self._seen.get(group)
            if last is None or _progressed(last.seen, position):
                self._seen[group] = _Progress(position, now)
                return 0.0
            last.seen = position
            return now - last.progressed_at


def _progressed(before: GroupPosition, now: GroupPosition) -> bool:
    # committed offsets that move back (a stream reset) count as a change, not a stall
    return now.lag == 0 or now.lag < before.lag or now.committed != before.committed


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
    positions: Mapping[str, GroupPosition],
    watch: LagWatch,
    now: float,
    stall_s: float,
) -> dict[str, str]:
    """Group -> what is wrong with it; empty when every group is ready."""
    problems: dict[str, str] = {}
    for group, position in positions.items():
        stalled = watch.stalled_for(group, position, now)
        if stalled > stall_s:
            problems[group] = (
                f"lag of {position.lag} events, and nothing processed for {stalled:.0f} s"
            )
    for running_group in running:
        problem = runner_problem(running_group, now, stall_s)
        if problem is not None:
            problems[running_group.runner.group] = problem
    return problems
