"""What every UserStateStore backend must do: bounded recent events, unbounded excluded items,
item activity, idempotence."""

from __future__ import annotations

import time

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


def test_events_are_ordered_and_trimmed_by_event_time(make_user_state: UserStateFactory) -> None:
    """A bulk import may deliver a user's history out of time order (MovieLens' u.data is not
    sorted): "the last N events" are the N newest by event time, ties in acceptance order."""
    store = make_user_state(user_state_max_events=4)
    stamps = [50.0, 10.0, 40.0, 20.0, 60.0, 30.0]
    recs = [
        StreamRecord(0, i, make_event("u", f"t{t:.0f}", timestamp=t)) for i, t in enumerate(stamps)
    ]
    store.apply(recs, {0: len(recs)})
    assert [e.item_id for e in store.recent_events("u", 100)] == ["t30", "t40", "t50", "t60"]
    ties = [StreamRecord(0, 6 + i, make_event("v", f"x{6 + i}", timestamp=5.0)) for i in range(6)]
    store.apply(ties, {0: 12})  # offsets 6..11: equal times keep offset order, 9 before 10
    assert [e.item_id for e in store.recent_events("v", 3)] == ["x9", "x10", "x11"]


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


def test_an_item_bought_long_ago_stays_excluded(make_user_state: UserStateFactory) -> None:
    store = make_user_state(user_state_max_events=200)
    bought = make_event("u", "bought", "purchase", session_id="s1")
    views = [make_event("u", f"v{i}", "view", session_id="s1") for i in range(499)]
    recs = [StreamRecord(0, i, e) for i, e in enumerate([bought, *views])]
    for start in range(0, len(recs), 100):
        store.apply(recs[start : start + 100], {0: min(start + 100, len(recs))})
    assert "bought" not in {e.item_id for e in store.recent_events("u", 1000)}
    assert store.excluded_items("u") == {"bought"}
    assert store.excluded_items("session:s1") == {"bought"}


def test_only_the_configured_types_are_remembered(make_user_state: UserStateFactory) -> None:
    store = make_user_state(exclude_seen_event_types=("purchase",))
    events = [
        make_event("u", "viewed", "view"),
        make_event("u", "rated", "rating"),
        make_event("u", "bought", "purchase"),
        make_event("u", "bought", "purchase"),
        make_event("v", "browsed", "view"),
    ]
    store.apply([StreamRecord(0, i, e) for i, e in enumerate(events)], {0: len(events)})
    assert store.excluded_items("u") == {"bought"}
    assert store.excluded_items("v") == set()
    assert store.excluded_items("nobody") == set()


def test_excluded_items_keep_ids_with_any_characters(make_user_state: UserStateFactory) -> None:
    """Ids may hold separators, commas and empty-looking parts: each comes back whole."""
    store = make_user_state()
    ids = ["a\x1fb", "\x1f", "c,d", "e\x1f\x1ff", "plain", "with space"]
    events = [make_event("u", item, "purchase") for item in ids]
    store.apply([StreamRecord(0, i, e) for i, e in enumerate(events)], {0: len(events)})
    assert store.excluded_items("u") == set(ids)


def test_replaying_a_batch_changes_no_excluded_items(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    events = [make_event("u", "a", "purchase"), make_event("u", "b", "rating")]
    batch = [StreamRecord(0, i, e) for i, e in enumerate(events)]
    store.apply(batch, {0: 2})
    assert store.apply(batch, {0: 2}) == 0
    assert store.excluded_items("u") == {"a", "b"}
    store.erase_user("u")
    store.apply(batch, {0: 2})  # below the stored position: skipped
    retried = [StreamRecord(0, 2 + i, e) for i, e in enumerate(events)]
    store.apply(retried, {0: 4})  # same event ids at new offsets: a client's retry
    assert store.excluded_items("u") == set()


def test_erase_user_removes_their_excluded_items(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    events = [make_event("u", "a", "purchase"), make_event("v", "b", "purchase")]
    store.apply([StreamRecord(0, i, e) for i, e in enumerate(events)], {0: 2})
    assert store.erase_user("u") == 1
    assert store.excluded_items("u") == set()
    assert store.excluded_items("v") == {"b"}


def test_a_session_remembers_items_from_every_shard(make_user_state: UserStateFactory) -> None:
    """Two users' events of one session can share an offset on different shards."""
    store = make_user_state()
    batch = [
        StreamRecord(0, 0, make_event("u", "a", "purchase", session_id="s1")),
        StreamRecord(1, 0, make_event("w", "b", "purchase", session_id="s1")),
    ]
    store.apply(batch, {0: 1, 1: 1})
    assert store.excluded_items("session:s1") == {"a", "b"}


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
    make_user_state: UserStateFactory,
) -> None:
    store = make_user_state()
    mine = StreamRecord(0, 0, make_event("erased", "a", session_id="shared"))
    theirs = StreamRecord(1, 0, make_event("kept", "b", session_id="shared"))
    store.apply([mine, theirs], {0: 1, 1: 1})
    store.erase_user("erased")
    assert [e.item_id for e in store.recent_events("session:shared", 10)] == ["b"]


def test_erase_user_leaves_other_sessions_and_users(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    batch = [
        StreamRecord(0, 0, make_event("erased", "a", session_id="s1")),
        StreamRecord(0, 1, make_event("erased", "b", session_id="s2")),
        StreamRecord(0, 2, make_event("kept", "c", session_id="s2")),
    ]
    store.apply(batch, {0: 3})
    assert store.erase_user("erased") == 2
    assert store.recent_events("session:s1", 10) == []
    assert [e.item_id for e in store.recent_events("session:s2", 10)] == ["c"]
    assert [e.item_id for e in store.recent_events("kept", 10)] == ["c"]


def test_erasure_marks_are_read_after_the_last_seen(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    store.record_erasure(1, 40, "d1", now=100.0)
    store.record_erasure(0, 7, "d2", now=200.0)
    marks = store.erasures()
    assert [(m.shard, m.upto, m.digest, m.recorded_at) for m in marks] == [
        (1, 40, "d1", 100.0),
        (0, 7, "d2", 200.0),
    ]
    assert marks[0].mark_id < marks[1].mark_id
    assert [m.digest for m in store.erasures(marks[0].mark_id)] == ["d2"]
    assert store.erasures(marks[1].mark_id) == []


def test_old_erasure_marks_are_forgotten(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    store.record_erasure(0, 5, "old", now=100.0)
    store.record_erasure(0, 9, "new", now=300.0)
    assert store.forget_erasures(older_than=200.0) == 1
    assert [m.digest for m in store.erasures()] == ["new"]
    store.record_erasure(0, 12, "newer", now=400.0)  # ids keep growing after a removal
    assert [m.digest for m in store.erasures()] == ["new", "newer"]
