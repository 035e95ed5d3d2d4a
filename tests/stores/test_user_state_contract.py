"""What every UserStateStore backend must do: bounded recent events, item activity, idempotence."""

from __future__ import annotations

import time

import pytest

from streamrec.stream.base import StreamRecord
from tests.factories import make_event
from tests.stores.conftest import UserStateFactory

DAY = 86400.0


def test_keeps_only_the_newest_events_oldest_first(make_user_state: UserStateFactory) -> None:
    store = make_user_state(user_state_max_events=5)
    recs = [StreamRecord(0, i, make_event("u", f"i{i}")) for i in range(12)]
    store.apply(recs[:7], {0: 7})
    store.apply(recs[7:], {0: 12})
    assert [e.item_id for e in store.recent_events("u", 100)] == [f"i{i}" for i in range(7, 12)]
    assert [e.item_id for e in store.recent_events("u", 2)] == ["i10", "i11"]


def test_session_events_are_kept_under_the_session_key(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    recs = [StreamRecord(0, 0, make_event("u", "a", session_id="s1"))]
    store.apply(recs, {0: 1})
    assert [e.item_id for e in store.recent_events("session:s1", 10)] == ["a"]


def test_item_activity_is_weighted_and_windowed(make_user_state: UserStateFactory) -> None:
    store = make_user_state(event_type_weights={"view": 1.0, "purchase": 5.0})
    now = time.time()
    recs = [
        StreamRecord(0, 0, make_event("u", "a", "view", received_at=now - 7200)),
        StreamRecord(0, 1, make_event("u", "a", "purchase", received_at=now)),
        StreamRecord(0, 2, make_event("v", "b", "view", received_at=now)),
    ]
    store.apply(recs, {0: 3})
    store.apply(recs, {0: 3})  # replay: no double counting
    assert store.item_activity(now - 600) == {"a": 5.0, "b": 1.0}
    assert store.item_activity(0) == {"a": 6.0, "b": 1.0}


def test_erase_user(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    store.apply([StreamRecord(0, 0, make_event("u", "a"))], {0: 1})
    assert store.erase_user("u") == 1
    assert store.recent_events("u", 10) == []


def test_a_session_spanning_shards_keeps_events_with_the_same_offset(
    make_user_state: UserStateFactory,
) -> None:
    store = make_user_state()
    a = StreamRecord(0, 7, make_event("anonymous", "a", session_id="s1", received_at=1.0))
    b = StreamRecord(1, 7, make_event("signed-in", "b", session_id="s1", received_at=2.0))
    store.apply([a, b], {0: 8, 1: 8})
    assert sorted(e.item_id for e in store.recent_events("session:s1", 10)) == ["a", "b"]
    assert [e.item_id for e in store.recent_events("anonymous", 10)] == ["a"]


def test_purge_drops_expired_event_ids_and_old_activity_buckets(
    make_user_state: UserStateFactory,
) -> None:
    store = make_user_state()
    now = time.time()
    old = [
        StreamRecord(0, k, make_event("u", f"i{k}", received_at=now - 40 * DAY)) for k in range(25)
    ]
    store.apply(old, {0: 25})
    fresh = StreamRecord(0, 25, make_event("v", "new", received_at=now))
    store.apply([fresh], {0: 26})
    assert len(store.item_activity(0)) == 26
    store.purge_expired(now, max_rows=10)  # counts differ: rows per item (SQL), minutes (Redis)
    assert store.item_activity(0) == {"new": 1.0}
    # Their event ids were forgotten: resent at later offsets, they are applied again.
    again = [StreamRecord(0, 26 + k, r.event) for k, r in enumerate(old)]
    assert store.apply(again, {0: 51}) == 25


def test_erase_user_removes_the_session_rows_of_their_events(
    make_user_state: UserStateFactory, request: pytest.FixtureRequest
) -> None:
    if "redis" in request.node.name:
        pytest.skip("Redis does not know a user's sessions yet (see streamrec.erasure)")
    store = make_user_state()
    mine = StreamRecord(0, 0, make_event("erased", "a", session_id="shared"))
    theirs = StreamRecord(1, 0, make_event("kept", "b", session_id="shared"))
    store.apply([mine, theirs], {0: 1, 1: 1})
    store.erase_user("erased")
    assert [e.item_id for e in store.recent_events("session:shared", 10)] == ["b"]
