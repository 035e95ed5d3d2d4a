"""Anonymous to known: an alias ties an anonymous id (a visitor before sign-in) to a user id.

``POST /v1/users/{user_id}/aliases`` appends one reserved event to the stream, like any event:
``event_type == "$alias"``, ``user_id`` = the anonymous id (so it is keyed, partitioned and ordered
after that id's events) and ``item_id`` = the known user id. Every consumer applies it in stream
order, in the same transaction as its stream position (a replay changes nothing):

- the history and user-state stores move the anonymous id's rows to the user and remember the
  alias; later events of the anonymous id are stored under the user (:func:`apply_in_order`);
- a serving process's in-memory state counts the anonymous id's later events as the user's;
- the lake stores the alias row as it is; training reads the anonymous rows as the user's
  (:mod:`streamrec.lake.reader`).

Choices where the issue is silent: an alias is one level (aliasing an id that is itself the
target of aliases does not carry them along); aliasing an anonymous id again to another user
sends its later events to the new user, what was merged before stays with the first; an alias
event is never counted as an interaction (no item, no popularity). Client events may not use the
reserved types (:data:`streamrec.events.RESERVED_EVENT_PREFIX`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Set
from typing import NamedTuple

import msgspec

from streamrec.events import Event, new_event_id
from streamrec.stream.base import StreamRecord

__all__ = [
    "ALIAS_EVENT_TYPE",
    "Alias",
    "MemoryAliases",
    "alias_event",
    "apply_in_order",
    "interactions",
    "is_alias",
    "resolved",
    "segments",
]

ALIAS_EVENT_TYPE = "$alias"


def alias_event(anonymous_id: str, user_id: str, now: float) -> Event:
    """The stream event that ties ``anonymous_id`` to ``user_id`` (ids validated by the caller)."""
    return Event(
        event_id=new_event_id(now),
        user_id=anonymous_id,
        item_id=user_id,
        event_type=ALIAS_EVENT_TYPE,
        timestamp=now,
        received_at=now,
    )


class Alias(NamedTuple):
    anonymous_id: str
    user_id: str
    at: float  # when the alias was received: the "now" of rows it merges (their expiry)


def is_alias(event: Event) -> bool:
    return event.event_type == ALIAS_EVENT_TYPE


def interactions(records: Sequence[StreamRecord]) -> list[StreamRecord]:
    """The records that are interactions (every record but the aliases)."""
    return [r for r in records if r.event.event_type != ALIAS_EVENT_TYPE]


def resolved(records: Iterable[StreamRecord], aliases: Mapping[str, str]) -> list[StreamRecord]:
    """The records with each aliased anonymous user id replaced by its user's id."""
    if not aliases:
        return list(records)
    out = []
    for r in records:
        known = aliases.get(r.event.user_id)
        if known is None:
            out.append(r)
        else:
            event = msgspec.structs.replace(r.event, user_id=known)
            out.append(StreamRecord(r.shard, r.offset, event))
    return out


def segments(
    records: Sequence[StreamRecord],
) -> Iterator[tuple[list[StreamRecord], Alias | None]]:
    """The batch cut at its aliases: (a run of interactions, the alias that follows it or None)."""
    run: list[StreamRecord] = []
    for r in records:
        if r.event.event_type == ALIAS_EVENT_TYPE:
            yield run, Alias(r.event.user_id, r.event.item_id, r.event.received_at)
            run = []
        else:
            run.append(r)
    if run:
        yield run, None


def apply_in_order(
    records: Sequence[StreamRecord],
    lookup: Callable[[set[str]], dict[str, str]],
    apply_events: Callable[[list[StreamRecord]], None],
    apply_alias: Callable[[Alias], None],
) -> None:
    """Apply a batch (already past the store's positions) in stream order: each run of events
    under the aliases known at that point (``lookup``: stored anonymous id -> user, for the ids
    asked), then each alias (``apply_alias`` moves the anonymous rows and stores the alias), so the effect is that of applying the records one by one."""
    users = {r.event.user_id for r in records if r.event.event_type != ALIAS_EVENT_TYPE}
    known = lookup(users) if users else {}
    for run, alias in segments(records):
        if run:
            apply_events(resolved(run, known))
        if alias is not None:
            apply_alias(alias)
            known[alias.anonymous_id] = alias.user_id


MAX_MEMORY_ALIASES = 200_000


class MemoryAliases:
    """A serving process's in-memory aliases (its real-time counts: co-occurrence of a user's
    consecutive events, recent baskets), applied in stream order as the records are fed.

    At most ``max_aliases`` are kept (the least recently used go first) and none survive a
    restart: an anonymous id's events after that count under their own id in these in-memory
    pairs only; the stores (history, recommendations' user state) keep every alias durably."""

    def __init__(self, max_aliases: int = MAX_MEMORY_ALIASES) -> None:
        self._known: OrderedDict[str, str] = OrderedDict()
        self._max = max_aliases

    def __len__(self) -> int:
        return len(self._known)

    def resolve(self, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        """Interactions (no alias among them) under the aliases known now."""
        return resolved(records, self._known)

    def add(self, anonymous_id: str, user_id: str) -> None:
        self._known[anonymous_id] = user_id
        self._known.move_to_end(anonymous_id)
        if len(self._known) > self._max:
            self._known.popitem(last=False)

    def interactions(self, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        """Take the batch's aliases; return its interactions under the aliases known then."""
        out: list[StreamRecord] = []
        for run, alias in segments(records):
            out.extend(self.resolve(run))
            if alias is not None:
                self.add(alias.anonymous_id, alias.user_id)
        return out

    def forget(self, digests: Set[str]) -> int:
        """Drop the aliases naming an erased user (by digest: streamrec.consumers.erased)."""
        from streamrec.consumers.erased import user_digest

        gone = [
            a
            for a, u in self._known.items()
            if user_digest(a) in digests or user_digest(u) in digests
        ]
        for anonymous_id in gone:
            del self._known[anonymous_id]
        return len(gone)
