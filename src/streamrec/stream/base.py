"""The stream (the Kinesis part): a partitioned, durable, replayable log of events.

Backends (``sqlite`` embedded, ``kafka`` distributed) implement :class:`EventLog`; callers never
know which one they hold. Events go to shard ``shard_for(user_id, shard_count)`` so one user's
events stay in order. Offsets are per shard, start at 0 and grow by one per event; a consumer
group's committed offset is the *next* offset it will read.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
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

    def status(self, groups: Sequence[str] = ()) -> list[ShardStatus]:
        """Per shard: head offset and the committed offset of each known (or named) group."""
        ...

    def trim(self, older_than: float) -> int:
        """Delete events received before `older_than` (epoch seconds); returns how many."""
        ...

    def close(self) -> None: ...
