"""event_value_thresholds in serving: an event below its type's threshold is left out of the
real-time state (popularity, trending, co-occurrence, named recommenders' counts) and of the
history a request scores, but stays stored (history, exclusions)."""

from __future__ import annotations

import time

import msgspec

from streamrec.event_thresholds import EventThresholds
from streamrec.events import Event
from streamrec.runtime import Runtime
from streamrec.serving.space import ItemSpace
from streamrec.serving.stream_state import StreamState
from streamrec.stream.base import StreamRecord
from tests.conftest import RuntimeFactory
from tests.factories import make_event

WEIGHTS = {"view": 1.0, "rating": 3.0, "purchase": 8.0}


def rating(user: str, item: str, value: float, t: float, session: str = "s") -> Event:
    event = make_event(user, item, "rating", received_at=t, session_id=session)
    return msgspec.structs.replace(event, event_value=value)


def test_low_ratings_do_not_reach_the_stream_state() -> None:
    now = time.time()
    events = [rating("u", "a", 5.0, now), rating("u", "b", 1.0, now + 1),
              rating("u", "c", 4.0, now + 2)]  # fmt: skip
    records = [StreamRecord(0, k, e) for k, e in enumerate(events)]
    state = StreamState(ItemSpace(), WEIGHTS, thresholds=EventThresholds({"rating": 3.0}))
    state.update(records)
    a, c = state.space.index("a"), state.space.index("c")
    assert state.space.index("b") < 0  # never counted, so never entered the space
    assert state.neighbours(a) == {c: 3.0}  # a -> c pair, the low rating between skipped
    counts = state.merchandising.windowed.scores("rating", 3_600.0, len(state.space))
    assert counts[[a, c]].tolist() == [1.0, 1.0] and counts.sum() == 2.0
    assert state.events_seen == 2
    state.update_pairs(records[1:2])  # a rebuild skips it as well
    assert state.space.index("b") < 0


def test_a_low_rating_is_not_folded_into_the_request(make_runtime: RuntimeFactory) -> None:
    def served(runtime: Runtime) -> tuple[str, list[str]]:
        now = time.time()
        events = [rating(f"v{k}", "x", 5.0, now + k, f"s{k}") for k in range(3)]
        events += [rating(f"v{k}", "y", 5.0, now + k + 0.5, f"s{k}") for k in range(3)]
        events.append(rating("u", "x", 1.0, now + 10, "su"))
        runtime.event_log.append(events)
        runtime.make_runner("realtime").drain()
        result = runtime.recommendations.recommend("u", 5)
        stored = [e.item_id for e in runtime.recommendations.events("u", None)]
        return result.recipe, stored

    assert served(make_runtime(exclude_seen_event_types=())) == ("cooccurrence", ["x"])
    strict = make_runtime(exclude_seen_event_types=(), event_value_thresholds={"rating": 3.0})
    recipe, stored = served(strict)
    assert recipe == "popularity" and stored == ["x"]  # stored, but not scored
    assert strict.recommendations.stream.events_seen == 6  # the low rating was not counted
