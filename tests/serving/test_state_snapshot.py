"""The real-time state survives restarts: snapshot round trip, replay past it, rebuild without it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamrec.runtime import Runtime
from streamrec.serving.space import ItemSpace
from streamrec.serving.state_snapshot import SnapshotStore, StateFeed, replay_retained
from streamrec.serving.stream_state import StreamState
from streamrec.stream.base import StreamRecord
from tests.conftest import RuntimeFactory
from tests.factories import make_event, random_events

WEIGHTS = {"view": 1.0, "purchase": 8.0}


def by_id(state: StreamState, values: np.ndarray) -> dict[str, float]:
    return {state.space.id(i): float(v) for i, v in enumerate(values) if v}


def neighbours_by_id(state: StreamState, item: str) -> dict[str, float]:
    row = state.neighbours(state.space.index(item))
    return {state.space.id(k): v for k, v in row.items()}


def fed_state(n: int = 3000) -> StreamState:
    state = StreamState(ItemSpace(), WEIGHTS)
    events = random_events(n, users=40, items=60)
    state.update([StreamRecord(0, k, e) for k, e in enumerate(events)])
    return state


def test_a_snapshot_restores_every_count_into_another_item_space() -> None:
    state = fed_state()
    space = ItemSpace()
    space.add(["unrelated", *reversed(state.space.ids(range(len(state.space))))])
    again = StreamState(space, WEIGHTS)
    assert again.restore(state.snapshot({0: 3000, 1: 5})) == {0: 3000, 1: 5}
    now = 1e12  # far ahead: trending reads compare the same buckets, not the wall clock
    for item in ("i1", "i7", "i42"):
        assert neighbours_by_id(again, item) == neighbours_by_id(state, item)
    size = len(state.space)
    assert by_id(again, again.popularity(len(space))) == pytest.approx(
        by_id(state, state.popularity(size))
    )
    assert by_id(again, again.trending.scores(now)) == pytest.approx(
        by_id(state, state.trending.scores(now))
    )
    assert again.events_seen == state.events_seen


def test_the_last_item_per_user_survives_so_the_next_click_pairs() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    t0 = 1_800_000_000.0
    state.update([StreamRecord(0, 0, make_event("u", "a", received_at=t0))])
    again = StreamState(ItemSpace(), WEIGHTS)
    again.restore(state.snapshot({0: 1}))
    again.update([StreamRecord(0, 1, make_event("u", "b", received_at=t0 + 5))])
    assert neighbours_by_id(again, "a") == {"b": 1.0}


def test_a_foreign_file_is_refused() -> None:
    with pytest.raises(ValueError):
        StreamState(ItemSpace(), WEIGHTS).restore(b"not a snapshot")


def test_the_feed_counts_past_the_snapshot_and_pairs_only_below() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    feed = StateFeed(state, counted={0: 2}, paired={0: 0})
    t0 = 1_800_000_000.0
    events = [make_event("u", i, received_at=t0 + k) for k, i in enumerate("abcd")]
    feed.feed([StreamRecord(0, k, e) for k, e in enumerate(events)])
    assert state.events_seen == 2  # c and d counted; a and b only paired
    assert set(neighbours_by_id(state, "b")) == {"a", "c"}
    feed.feed([StreamRecord(0, k, e) for k, e in enumerate(events)])  # a replay
    assert state.events_seen == 2


def serve_like(runtime: Runtime) -> None:
    """What `streamrec serve` does with the realtime group, then stop (writing the snapshot)."""
    runtime.keep_snapshots()
    runtime.start_consumers(["realtime"])


def wait_counted(runtime: Runtime, n: int) -> None:
    runtime.state_feed.ready.wait(10)
    runner = runtime.runners[-1]
    for _ in range(500):
        if runner.processed >= n and runtime.state_feed.ready.is_set():
            return
        runtime._stop.wait(0.02)
    raise AssertionError(f"the realtime consumer processed {runner.processed} of {n}")


def similar_and_popular(runtime: Runtime) -> tuple[list[str], list[str], list[str]]:
    service = runtime.recommendations
    similar = [i[0] for i in service.similar("i3", 10).items]
    popular = [i[0] for i in service.popular_items(10).items]
    trending = [i[0] for i in service.trending_items(10).items]
    return similar, popular, trending


def test_a_restart_serves_what_was_served_before(make_runtime: RuntimeFactory) -> None:
    first = make_runtime(datalake=False, stream_item_min_users=1)  # every id counts at once
    events = random_events(2000, users=30, items=40)
    first.event_log.append(events)
    serve_like(first)
    wait_counted(first, len(events))
    before = similar_and_popular(first)
    assert before[0], "co-occurrence learnt nothing"
    first.close()
    assert SnapshotStore(first.settings.model_location).load() is not None

    again = Runtime(first.settings)
    try:
        assert similar_and_popular(again) == before  # before any replay: from the snapshot
        serve_like(again)
        assert again.state_feed.ready.wait(10)
        assert similar_and_popular(again) == before
        assert again.recommendations.stream.events_seen == len(events)
    finally:
        again.close()


def test_events_after_the_snapshot_are_replayed(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(datalake=False, stream_item_min_users=1)  # every id counts at once
    runtime.event_log.append([make_event("u", "a"), make_event("u", "b")])
    serve_like(runtime)
    wait_counted(runtime, 2)
    runtime.close()  # snapshot at offsets {0: 2}
    snapshot = SnapshotStore(runtime.settings.model_location).load()
    again = Runtime(runtime.settings)
    try:
        again.event_log.append([make_event("u", "c")])
        again.make_runner("realtime").drain()  # the store moves on; the snapshot does not
        later = Runtime(runtime.settings)
        assert snapshot is not None and later.recommendations.stream.events_seen == 2
        replay_retained(later.event_log, later.state_feed, later.user_state.positions())
        assert later.recommendations.stream.events_seen == 3
        assert "c" in neighbours_by_id(later.recommendations.stream, "b")
        later.close()
    finally:
        again.close()


def test_without_a_snapshot_cooccurrence_is_rebuilt_from_the_stream(
    make_runtime: RuntimeFactory,
) -> None:
    first = make_runtime(datalake=False, stream_item_min_users=1)  # every id counts at once
    first.event_log.append(random_events(1500, users=20, items=30))
    first.make_runner("realtime").drain()  # no snapshot written: not a serving process
    before = neighbours_by_id(first.recommendations.stream, "i3")
    counts = first.recommendations.stream.events_seen
    first.close()
    assert not Path(SnapshotStore(first.settings.model_location).location).exists()
    again = Runtime(first.settings)
    try:
        assert neighbours_by_id(again.recommendations.stream, "i3") == {}
        replay_retained(again.event_log, again.state_feed, again.user_state.positions())
        assert neighbours_by_id(again.recommendations.stream, "i3") == before
        assert again.recommendations.stream.events_seen == 0 < counts  # counts came warm
        assert again.recommendations.popular_items(1).items
    finally:
        again.close()


def test_a_rebuild_without_snapshot_is_bounded_to_the_newest_events(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import streamrec.serving.state_snapshot as snap

    monkeypatch.setattr(snap, "REBUILD_MAX_EVENTS", 40)
    state = StreamState(ItemSpace(), WEIGHTS)
    feed = snap.restore_state(state, SnapshotStore(str(tmp_path)), lambda s: None, {0: 100, 1: 5})
    assert feed.paired == {0: 80, 1: 0} and feed.counted == {0: 100, 1: 5}


def test_an_erased_user_leaves_the_state_and_its_snapshot(tmp_path: Path) -> None:
    from streamrec.consumers.admission import ItemAdmission
    from streamrec.consumers.erased import user_digest

    space = ItemSpace()
    space.add(["a", "b"])
    state = StreamState(space, WEIGHTS)
    feed = StateFeed(state, counted={}, store=SnapshotStore(str(tmp_path)))
    feed.use_admission(ItemAdmission(space, min_users=2))
    events = [make_event("erased-7f3a", "a"), make_event("erased-7f3a", "waiting-item")]
    feed.feed([StreamRecord(0, k, e) for k, e in enumerate([*events, make_event("kept", "b")])])
    feed.ready.set()
    feed.save()
    snapshot = Path(feed.store.location if feed.store else "")
    assert b"erased-7f3a" in snapshot.read_bytes()  # the last item and a waiting id's user
    feed.forget({user_digest("erased-7f3a")})
    assert b"erased-7f3a" not in snapshot.read_bytes()
    assert b"kept" in snapshot.read_bytes()


def test_an_unchanged_state_is_not_written_again(tmp_path: Path) -> None:
    """Served-recommendation records move no count: no snapshot every 30 s for nothing."""
    store = SnapshotStore(str(tmp_path))
    path = Path(store.location)
    feed = StateFeed(StreamState(ItemSpace(), WEIGHTS), {}, store=store, interval_s=10.0)
    feed.ready.set()
    feed.feed([StreamRecord(0, 0, make_event("u", "a"))])
    assert feed.maybe_save(now=feed.saved_at + 11.0)
    written = path.stat().st_mtime_ns
    assert not feed.maybe_save(now=feed.saved_at + 30.0)
    assert path.stat().st_mtime_ns == written
    feed.feed([StreamRecord(0, 1, make_event("u", "b"))])
    assert not feed.maybe_save(now=feed.saved_at + 1.0)  # changed, but not due yet
    assert feed.maybe_save(now=feed.saved_at + 11.0)
    again = StreamState(ItemSpace(), WEIGHTS)
    assert again.restore(path.read_bytes()) == {0: 2}
