"""The alias event and a serving process's in-memory aliases (streamrec.aliases)."""

from __future__ import annotations

import time

from streamrec.aliases import ALIAS_EVENT_TYPE, MemoryAliases, alias_event, interactions
from streamrec.consumers.erased import user_digest
from streamrec.serving.space import ItemSpace
from streamrec.serving.state_snapshot import StateFeed
from streamrec.serving.stream_state import StreamState
from streamrec.stream.base import StreamRecord
from tests.factories import make_event


def stream(*events: object) -> list[StreamRecord]:
    return [StreamRecord(0, i, e) for i, e in enumerate(events)]  # type: ignore[arg-type]


def test_the_alias_event_is_keyed_by_the_anonymous_id() -> None:
    event = alias_event("anon", "alice", 10.0)
    assert (event.user_id, event.item_id, event.event_type) == ("anon", "alice", ALIAS_EVENT_TYPE)
    batch = stream(event, make_event("anon", "a"))
    assert interactions(batch) == batch[1:]


def test_memory_aliases_apply_in_stream_order_and_forget_erased_users() -> None:
    now = time.time()
    aliases = MemoryAliases()
    batch = stream(
        make_event("anon", "a", received_at=now),
        alias_event("anon", "alice", now),
        make_event("anon", "b", received_at=now),
        make_event("other", "c", received_at=now),
    )
    out = aliases.interactions(batch)
    assert [(r.event.user_id, r.event.item_id) for r in out] == [
        ("anon", "a"),  # counted before the alias arrived: it stays where it was counted
        ("alice", "b"),
        ("other", "c"),
    ]
    assert [r.offset for r in out] == [0, 2, 3]
    assert aliases.forget({user_digest("alice")}) == 1
    later = aliases.interactions(stream(make_event("anon", "d")))
    assert [r.event.user_id for r in later] == ["anon"]


def test_memory_aliases_are_bounded() -> None:
    aliases = MemoryAliases(max_aliases=2)
    aliases.interactions(stream(*(alias_event(f"anon{k}", f"user{k}", 1.0) for k in range(3))))
    assert len(aliases) == 2


def test_the_state_never_counts_an_alias_as_an_interaction() -> None:
    now = time.time()
    state = StreamState(ItemSpace(), {"view": 1.0})
    feed = StateFeed(state, {})
    feed.feed(
        stream(
            make_event("anon", "a", received_at=now),
            alias_event("anon", "alice", now),
            make_event("anon", "b", received_at=now + 1),
        )
    )
    assert state.events_seen == 2
    assert state.space.index("alice") < 0  # the user's id is no item
    a, b = state.space.index("a"), state.space.index("b")
    assert state.neighbours(a) == {b: 1.0}  # alice's consecutive clicks make a pair
    assert feed.counted == {0: 3}
