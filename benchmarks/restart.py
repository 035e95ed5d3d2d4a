"""Restart benchmark (issue 13): how long until a restarted serving process has its real-time
state (co-occurrence, popularity, trending) back, with 1,000,000 events retained in the stream.

Set-up (not timed): the embedded SQLite stream holds 1,000,000 generated events; the realtime
group has consumed them all into the user-state store and the in-memory state, whose snapshot was
written; then 10,000 more events arrived (consumed by the store, not in the snapshot), as after
a crash between two snapshots.

Timed, per repetition, in a fresh :class:`streamrec.runtime.Runtime` on that data dir:

- *answers from the snapshot*: until the Runtime is built, with the snapshot restored (what the
  API serves from while the replay runs);
- *state ready*: until the events past the snapshot are replayed as well (what ``serve`` does in
  its realtime thread before consuming);
- *rebuild without a snapshot*: the same with the snapshot file moved away: counts warmed from the
  store, co-occurrence rebuilt from the newest 200,000 retained events.

The goal, from the issue: state for 1,000,000 retained events ready within 10 s.
"""

from __future__ import annotations

import time
from pathlib import Path

from benchmarks.harness import Benchmark, Context, Goal, Section
from streamrec.config import Settings
from streamrec.events import Event, new_event_id
from streamrec.runtime import Runtime
from streamrec.serving.state_snapshot import SnapshotStore, replay_retained
from streamrec.synthetic import generate_interactions

__all__ = ["BENCHMARKS"]

FULL_EVENTS = 1_000_000
QUICK_EVENTS = 100_000
AFTER_SNAPSHOT = 10_000
APPEND_CHUNK = 50_000


def generated_events(n: int, seed: int) -> list[Event]:
    table = generate_interactions(n_users=50_000, n_items=100_000, n_events=n, seed=seed)
    now = time.time()
    base = now - 3_600.0
    first = float(table.column("timestamp")[0].as_py())
    return [
        Event(new_event_id(now), u, i, min(now, base + (t - first) / 1000.0), now, et)
        for u, i, t, et in zip(
            table.column("user_id").to_pylist(),
            table.column("item_id").to_pylist(),
            table.column("timestamp").to_pylist(),
            table.column("event_type").to_pylist(),
            strict=True,
        )
    ]


def prepare(data_dir: Path, n: int) -> Settings:
    """The data dir of a server that consumed ``n`` events, snapshotted, then took 10,000 more."""
    settings = Settings(data_dir=data_dir, datalake=False, recently_visited_items=False)
    runtime = Runtime(settings)
    try:
        events = generated_events(n + AFTER_SNAPSHOT, seed=13)
        for start in range(0, n, APPEND_CHUNK):
            runtime.event_log.append(events[start : min(n, start + APPEND_CHUNK)])
        runtime.keep_snapshots()
        runtime.make_runner("realtime", batch_size=20_000).drain()
        runtime.state_feed.ready.set()
        runtime.state_feed.save()
        runtime.state_feed.store = None  # what follows is not in the snapshot
        runtime.event_log.append(events[n:])
        runtime.make_runner("realtime", batch_size=20_000).drain()
    finally:
        runtime.close()
    return settings


def restart(settings: Settings) -> tuple[float, float]:
    """(seconds until the Runtime answers, seconds until its state is complete)."""
    start = time.perf_counter()
    runtime = Runtime(settings)
    answering = time.perf_counter() - start
    try:
        replay_retained(runtime.event_log, runtime.state_feed, runtime.user_state.positions())
        ready = time.perf_counter() - start
        state = runtime.recommendations.stream
        if not any(state.neighbours(i) for i in range(min(1000, len(state.space)))):
            raise RuntimeError("the restarted state has no co-occurrence")
    finally:
        runtime.close()
    return answering, ready


def run_restart(ctx: Context) -> Section:
    n = QUICK_EVENTS if ctx.quick else FULL_EVENTS
    section = Section("restart.state", f"real-time state after a restart, {n:,} retained events")
    settings = prepare(ctx.scratch("restart"), n)
    snapshot = Path(SnapshotStore(settings.model_location).location)
    reps = max(3, ctx.reps)
    with_snapshot = [restart(settings) for _ in range(reps)]
    moved = snapshot.with_name("moved-away.npz")
    snapshot.rename(moved)
    without = [restart(settings)[1] for _ in range(reps)]
    moved.rename(snapshot)
    goal = Goal("<", 10.0)
    section.add("answers from the snapshot", "s", [a for a, _ in with_snapshot])
    section.add("state ready (snapshot + replay past it)", "s", [r for _, r in with_snapshot],
                goal=goal)  # fmt: skip
    section.add("state ready without a snapshot (rebuild, newest 200,000)", "s", without,
                goal=goal)  # fmt: skip
    section.method = [
        f"{n:,} events (streamrec.synthetic, 50,000 users, 100,000 items, seed 13) in the "
        f"embedded stream, consumed by the realtime group and snapshotted; {AFTER_SNAPSHOT:,} "
        "more consumed after the snapshot. Each repetition builds a new Runtime on that data "
        "dir and replays what its state lacks (streamrec.serving.state_snapshot).",
        f"snapshot size: {snapshot.stat().st_size / 1e6:.1f} MB",
    ]
    return section


BENCHMARKS = [
    Benchmark("restart.state", "real-time state ready after a restart", run_restart),
]
