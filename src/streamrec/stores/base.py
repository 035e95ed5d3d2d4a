"""Stores fed by the consumers and read by the API (the DynamoDB part).

Both protocols are *transactional sinks*: ``apply`` stores the effect of a batch of stream records
together with the stream position it reached, atomically, and skips records below the stored
position. A replay after a crash therefore changes nothing (exactly-once effect on top of
at-least-once delivery). Duplicate event ids (a client retrying) are also applied once.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, NamedTuple, Protocol, runtime_checkable

from streamrec.stream.base import StreamRecord

if TYPE_CHECKING:
    from streamrec.stores.user_states import UserStates


@dataclasses.dataclass(frozen=True, slots=True)
class HistoryEntry:
    """One recently visited item of a user: the newest event type, last time seen, event count."""

    item_id: str
    event_type: str
    last_seen: float
    count: int


@dataclasses.dataclass(frozen=True, slots=True)
class ErasureMark:
    """An erased user's events, known by the digest of their id: every event of that user on
    ``shard`` below offset ``upto`` is dropped by the consumers (see streamrec.erasure)."""

    mark_id: int  # grows by one per mark; readers ask for the marks after the last they saw
    shard: int
    upto: int
    digest: str
    recorded_at: float


class UserEvent(NamedTuple):
    """One event of a user's recent history, as the user-state stores return it. A named tuple,
    not a frozen dataclass: a request builds one per event of the history (up to
    ``user_state_max_events``), and a frozen dataclass's ``__init__`` took 0.8 us each (160 us
    for a 200-event history, as long as the query), a tuple's ``_make`` about 0.3 us."""

    item_id: str
    event_type: str
    timestamp: float
    event_value: float | None = None


class PositionedSink(Protocol):
    def positions(self) -> dict[int, int]:
        """Per shard, the next stream offset this store has not applied yet."""
        ...

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        """Apply records at or past the stored positions, store next_offsets; return how many applied."""
        ...

    def close(self) -> None: ...


class HistoryStore(PositionedSink, Protocol):
    """Per (user, item, event type): last time seen, count, expiry = received_at + history_days."""

    def recent(
        self, user_id: str, limit: int, event_type: str | None = None, now: float | None = None
    ) -> list[HistoryEntry]:
        """Newest first, one row per item (per item and type when event_type is given), unexpired."""
        ...

    def erase_user(self, user_id: str) -> int: ...

    def aliases_of(self, user_id: str) -> list[str]:
        """The anonymous ids aliased to the user (see streamrec.aliases)."""
        ...

    def forget_aliases(self, user_id: str) -> int:
        """Drop the user's aliases (an erasure's last step); return how many."""
        ...

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        """Delete every expired row and event-id mark, in transactions of at most `max_rows`
        rows (never a fixed number a round); return the history rows deleted."""
        ...


class UserStateStore(PositionedSink, Protocol):
    """The recommender's real-time state: each user's (and session's) last N events, every item
    they ever had an event of an excluded type for (``exclude_seen_event_types``: bought or rated
    items stay out of their recommendations beyond those N), plus per-item activity in time
    buckets (popularity and trending from the stream)."""

    def recent_events(self, key: str, limit: int) -> list[UserEvent]:
        """Oldest first, at most `limit` of the newest events of a user (or of `session:<id>`)."""
        ...

    def excluded_items(self, key: str) -> set[str]:
        """Every item of an excluded-type event of a user (or of `session:<id>`), never trimmed."""
        ...

    def states_of(self, keys: Sequence[str], limit: int) -> UserStates:
        """``recent_events(key, limit)`` and ``excluded_items(key)`` of every key, in one round
        trip, as columns (batch jobs: streamrec.stores.user_states)."""
        ...

    def item_activity(self, since: float, until: float | None = None) -> dict[str, float]:
        """Event-type-weighted activity per item in [since, until)."""
        ...

    def erase_user(self, user_id: str) -> int:
        """Remove the user's events and excluded items; return how many events were removed."""
        ...

    def aliases_of(self, user_id: str) -> list[str]:
        """The anonymous ids aliased to the user (see streamrec.aliases)."""
        ...

    def forget_aliases(self, user_id: str) -> int:
        """Drop the user's aliases (an erasure's last step); return how many."""
        ...

    def record_erasure(self, shard: int, upto: int, digest: str, now: float) -> None:
        """Store an :class:`ErasureMark` (the erasure ledger every consumer reads)."""
        ...

    def erasures(self, after: int = 0) -> list[ErasureMark]:
        """The erasure marks with a ``mark_id`` above ``after``, oldest first."""
        ...

    def forget_erasures(self, older_than: float) -> int:
        """Remove marks recorded before `older_than` (no event they drop is retained any more)."""
        ...

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        """Delete every expired event-id mark and every activity bucket older than
        ITEM_BUCKET_RETENTION_S, in transactions of at most `max_rows` rows; return the
        activity buckets deleted (rows per item and minute in SQL, minutes in Redis)."""
        ...


@runtime_checkable
class ScrubsAfterErasure(Protocol):
    """A store whose server keeps its own copies of deleted data on disk (Redis's AOF and RDB):
    ``scrub_after_erasure`` asks it to rewrite them, once an erasure is complete."""

    def scrub_after_erasure(self) -> None: ...
