"""What every history and user-state backend does with an alias (streamrec.aliases): the
anonymous id's rows become the user's, later anonymous events count for the user, and a replay
of the stream changes nothing."""

from __future__ import annotations

import time

from streamrec.aliases import alias_event
from streamrec.events import Event
from streamrec.stream.base import StreamRecord
from tests.factories import make_event
from tests.stores.conftest import HistoryFactory, UserStateFactory

ANON = "anon-7f3a"
USER = "alice"


def records(shard: int, first: int, events: list[Event]) -> list[StreamRecord]:
    return [StreamRecord(shard, first + i, e) for i, e in enumerate(events)]


def anonymous_then_alias() -> list[StreamRecord]:
    """Shard 0 holds the anonymous id's events and then its alias, as the stream keys them."""
    now = time.time()
    before = [
        make_event(ANON, "shoe", "view", received_at=now - 30),
        make_event(ANON, "sock", "purchase", received_at=now - 20),
    ]
    return records(0, 0, [*before, alias_event(ANON, USER, now - 10)])


def test_user_state_merges_the_anonymous_events(make_user_state: UserStateFactory) -> None:
    store = make_user_state(exclude_seen_event_types=("purchase",))
    now = time.time()
    store.apply(records(1, 0, [make_event(USER, "hat", "view", received_at=now - 40)]), {1: 1})
    batch = anonymous_then_alias()
    store.apply(batch, {0: 3})
    assert [e.item_id for e in store.recent_events(USER, 10)] == ["hat", "shoe", "sock"]
    assert store.recent_events(ANON, 10) == []
    assert store.excluded_items(USER) == {"sock"}
    assert store.excluded_items(ANON) == set()
    assert store.aliases_of(USER) == [ANON]
    # the alias is not an interaction: no item named after the user gets activity
    assert set(store.item_activity(0)) == {"hat", "shoe", "sock"}
    later = records(0, 3, [make_event(ANON, "scarf", "view", received_at=now)])
    store.apply(later, {0: 4})
    assert [e.item_id for e in store.recent_events(USER, 10)][-1] == "scarf"
    assert store.recent_events(ANON, 10) == []
    activity = store.item_activity(0)
    store.apply([*batch, *later], {0: 4})  # a replay from the start
    assert [e.item_id for e in store.recent_events(USER, 10)] == ["hat", "shoe", "sock", "scarf"]
    assert store.item_activity(0) == activity


def test_user_state_applies_a_batch_in_stream_order(make_user_state: UserStateFactory) -> None:
    """Events before the alias, the alias, and events after it in one batch: all the user's.
    Re-aliasing the anonymous id to another user sends only its later events there."""
    store = make_user_state()
    now = time.time()
    batch = [
        *anonymous_then_alias(),
        StreamRecord(0, 3, make_event(ANON, "scarf", received_at=now)),
        StreamRecord(0, 4, alias_event(ANON, "bob", now)),
        StreamRecord(0, 5, make_event(ANON, "glove", received_at=now)),
    ]
    assert store.apply(batch, {0: 6}) == 6
    assert [e.item_id for e in store.recent_events(USER, 10)] == ["shoe", "sock", "scarf"]
    assert [e.item_id for e in store.recent_events("bob", 10)] == ["glove"]
    assert store.aliases_of("bob") == [ANON]
    assert store.aliases_of(USER) == []


def test_user_state_forgets_aliases(make_user_state: UserStateFactory) -> None:
    store = make_user_state()
    store.apply(anonymous_then_alias(), {0: 3})
    assert store.forget_aliases(USER) == 1
    assert store.aliases_of(USER) == []
    store.apply(records(0, 3, [make_event(ANON, "scarf")]), {0: 4})
    assert [e.item_id for e in store.recent_events(ANON, 10)] == ["scarf"]  # a new start


def test_history_merges_the_anonymous_rows(make_history: HistoryFactory) -> None:
    store = make_history()
    now = time.time()
    store.apply(records(1, 0, [make_event(USER, "shoe", "view", received_at=now - 40)]), {1: 1})
    batch = anonymous_then_alias()
    store.apply(batch, {0: 3})
    rows = {(e.item_id, e.event_type): e.count for e in store.recent(USER, 10, None, now)}
    assert rows == {("shoe", "view"): 2, ("sock", "purchase"): 1}
    assert store.recent(ANON, 10, None, now) == []
    assert store.aliases_of(USER) == [ANON]
    later = records(0, 3, [make_event(ANON, "shoe", "view", received_at=now)])
    store.apply(later, {0: 4})
    store.apply([*batch, *later], {0: 4})  # a replay changes nothing
    shoe = store.recent(USER, 10, "view", now + 1)
    assert [(e.item_id, e.count) for e in shoe] == [("shoe", 3)]
    assert store.recent(ANON, 10, None, now + 1) == []
    assert store.forget_aliases(USER) == 1
    assert store.aliases_of(USER) == []


def test_history_merges_only_what_has_not_expired(make_history: HistoryFactory) -> None:
    """As two batches of events would: the user's row expired before the alias starts afresh,
    the anonymous id's expired rows stay out of the user's history."""
    store = make_history(history_days=1.0)
    now = time.time()
    old, fresh = now - 2 * 86400.0, now - 60.0
    store.apply(records(1, 0, [make_event(USER, "shoe", received_at=old)]), {1: 1})
    anonymous = [
        make_event(ANON, "shoe", received_at=fresh),
        make_event(ANON, "sock", received_at=old),
    ]
    store.apply(records(0, 0, [*anonymous, alias_event(ANON, USER, now)]), {0: 3})
    assert [(e.item_id, e.count) for e in store.recent(USER, 10, None, now)] == [("shoe", 1)]
    assert store.recent(ANON, 10, None, old) == []
