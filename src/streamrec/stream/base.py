"""The stream (the Kinesis part): a partitioned, durable, replayable log of events.

Backends (``sqlite`` embedded, ``kafka`` distributed) implement :class:`EventLog`; callers never
know which one they hold. Events go to shard ``shard_for(user_id, shard_count)`` so one user's
events stay in order. Offsets are per shard, start at 0 and grow by one per event; a consumer
group's committed offset is the *next* offset it will read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Protocol

import msgspec

from streamrec.events import Event


class StreamRecord(msgspec.Struct, frozen=True):
    """One event at its place in the stream. A msgspec Struct rather than a frozen dataclass:
    consumers build one per event, and a frozen dataclass's ``__init__`` (an
    ``object.__setattr__`` per field) was a tenth of the lake consumer's time."""

    shard: int
    offset: int
    event: Event


@dataclasses.dataclass(frozen=True)
class ShardStatus:
    shard: int
    head: int  # next offset to be written
    committed: Mapping[str, int]  # group -> next offset the group will read

    def lag(self, group: str) -> int:
        return self.head - self.committed.get(group, 0)


class StreamConsumer(Protocol):
    """One member of a consumer group: reads its shards from the group's committed offsets."""

    @property
    def group(self) -> str: ...

    def poll(self, max_records: int, timeout_s: float) -> list[StreamRecord]:
        """Up to max_records records past those already returned; waits up to timeout_s for any."""
        ...

    def on_revoke(self, listener: Callable[[list[int]], None]) -> None:
        """Call `listener` with the shards this member loses in a rebalance (Kafka), before
        another member may read them; the embedded log never revokes."""
        ...

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        """Record, durably, that the group has processed every record before these offsets."""
        ...

    def close(self) -> None: ...


class EventLog(Protocol):
    @property
    def shard_count(self) -> int: ...

    def submit(self, events: Sequence[Event]) -> Future[None]:
        """Queue events for appending; the future completes once all are durable, or fails with
        StreamUnavailable / OverloadedError. Concurrent submissions share one write (group commit)."""
        ...

    def append(self, events: Sequence[Event]) -> None:
        """Append and wait until durable (submit + wait)."""
        ...

    def consumer(self, group: str) -> StreamConsumer: ...

    def reader(self, start: Mapping[int, int]) -> StreamConsumer:
        """Every shard from ``start`` (per shard; the oldest retained record where missing or
        trimmed), outside any consumer group: nothing is committed, no group is joined (a
        replay, e.g. of the events a restored state lacks). ``commit`` does nothing."""
        ...

    def status(self, groups: Sequence[str] = ()) -> list[ShardStatus]:
        """Per shard: head offset and the committed offset of each known (or named) group."""
        ...

    def group_members(self, group: str) -> int | None:
        """How many consumers are members of ``group`` now, anywhere; None when the backend
        cannot tell (the embedded log: its consumers take a lock in data_dir instead)."""
        ...

    def erase_user(self, user_id: str) -> int:
        """Remove the user's retained payloads where the backend can (SQLite: deleted, freed pages
        zeroed); return how many. Kafka cannot delete records: they leave with retention."""
        ...

    def trim(self, older_than: float) -> int:
        """Delete events received before `older_than` (epoch seconds); returns how many."""
        ...

    def close(self) -> None: ...
