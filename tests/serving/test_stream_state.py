"""The realtime consumer's in-memory state: bounded co-occurrence, counts, replay safety."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.consumers.realtime import RealtimeSink
from streamrec.serving.space import ItemSpace
from streamrec.serving.state_snapshot import StateFeed
from streamrec.serving.stream_state import StreamState
from streamrec.stream.base import StreamRecord
from tests.conftest import RuntimeFactory
from tests.factories import make_event

WEIGHTS = {"view": 1.0, "purchase": 8.0}


def records(pairs: list[tuple[str, str]], t0: float = 1_800_000_000.0) -> list[StreamRecord]:
    return [
        StreamRecord(0, k, make_event(u, i, received_at=t0 + k, timestamp=t0 + k))
        for k, (u, i) in enumerate(pairs)
    ]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("uvw"), st.integers(0, 30).map(str)), max_size=300),
    st.integers(1, 5),
)
def test_neighbour_rows_stay_bounded(pairs: list[tuple[str, str]], cap: int) -> None:
    state = StreamState(ItemSpace(), WEIGHTS, max_neighbours=cap, max_users=2)
    state.update(records(pairs))
    for item in range(len(state.space)):
        row = state.neighbours(item)
        assert len(row) <= cap and item not in row
    assert state.events_seen == len(pairs)


def test_consecutive_events_become_symmetric_pairs() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    state.update(records([("u", "a"), ("u", "b"), ("v", "c"), ("u", "a")]))
    a, b, c = state.space.indices(["a", "b", "c"]).tolist()
    assert state.neighbours(a) == {b: 2.0} and state.neighbours(b) == {a: 2.0}
    assert state.neighbours(c) == {}


def test_pairs_further_apart_than_a_session_do_not_count() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    first = records([("u", "a")])
    later = records([("u", "b")], t0=first[0].event.timestamp + 2 * 86_400)
    state.update(first)
    state.update(later)
    assert state.neighbours(state.space.index("a")) == {}


def test_popularity_is_weighted_by_event_type() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    now = 1_800_000_000.0
    state.update([
        StreamRecord(0, 0, make_event("u", "a", "purchase", received_at=now)),
        StreamRecord(0, 1, make_event("v", "b", "view", received_at=now)),
    ])  # fmt: skip
    pop = state.popularity(len(state.space))
    a, b = state.space.indices(["a", "b"]).tolist()
    assert pop[a] == pytest.approx(8 * pop[b])


def test_realtime_sink_replay_counts_nothing_twice(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(stream_item_min_users=1)  # a and b are seen from one user only
    runtime.event_log.append([make_event("u", "a"), make_event("u", "b")])
    runtime.make_runner("realtime").drain()
    state = runtime.recommendations.stream
    assert state.events_seen == 2
    batch = records([("u", "a"), ("u", "b")])
    feed = StateFeed(state, runtime.user_state.positions())
    sink = RealtimeSink(runtime.user_state, feed)  # a restarted sink sees the same offsets again
    sink.write(batch)
    assert state.events_seen == 2
    assert runtime.user_state.recent_events("u", 10)[-1].item_id == "b"


def test_warm_start_restores_popularity_and_trending(make_runtime: RuntimeFactory) -> None:
    first = make_runtime()
    first.event_log.append([make_event(f"u{k}", "hot") for k in range(3)])
    first.make_runner("realtime").drain()
    settings_ = first.settings
    first.close()
    from streamrec.runtime import Runtime

    again = Runtime(settings_)
    try:
        assert again.recommendations.popular_items(1).items[0][0] == "hot"
        assert again.recommendations.trending_items(1).items[0][0] == "hot"
    finally:
        again.close()


def test_old_events_are_popular_but_not_trending() -> None:
    """An import of last year's events: trending is about when interactions happened."""
    state = StreamState(ItemSpace(), WEIGHTS)
    now = 1_800_000_000.0
    old = [
        StreamRecord(0, k, make_event(f"u{k}", "old", received_at=now, timestamp=now - 3e7))
        for k in range(5)
    ]
    state.update(old)
    state.update([StreamRecord(0, 9, make_event("v", "fresh", received_at=now, timestamp=now))])
    old_idx, fresh_idx = state.space.indices(["old", "fresh"]).tolist()
    scores = state.trending_scores(len(state.space), now=now)
    assert scores[old_idx] <= 0 < scores[fresh_idx]
    assert state.popularity(len(state.space))[old_idx] > 0
