"""The ``lake`` consumer group: archives every stream record to the Parquet lake.

Buffers follow the Firehose rules (``lake_flush_bytes`` / ``lake_flush_interval_s``, and on
shutdown), plus one: when a burst of at least ``IDLE_FLUSH_MIN_RECORDS`` records (an import, a
backlog) is followed by a checkpoint interval with no new record, the buffers are written at once,
so an import is in the lake (and ``streamrec train`` can use it) as soon as its last event is in,
not a flush interval later; a trickle of live events still waits for the interval or the size; the offsets it reports as safe stop before the first record still buffered, so the
runner never commits past what is in a file. Replays are harmless: see :mod:`streamrec.lake.writer`.

An erasure (:mod:`streamrec.consumers.erased`) must not wait for a flush interval: told of its
mark, the sink drops the user's buffered records and writes its buffers as soon as it has read
its shard up to the mark's offset, so the group commits past the erasure within a checkpoint or
two and the erasure finishes within seconds, not after ``lake_flush_interval_s``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence, Set

from streamrec.config import Settings
from streamrec.consumers.erased import marked_users
from streamrec.lake.writer import LakeWriter
from streamrec.stores.base import ErasureMark
from streamrec.stream.base import StreamRecord

__all__ = ["IDLE_FLUSH_MIN_RECORDS", "LakeSink"]

IDLE_FLUSH_MIN_RECORDS = 500
ERASURE_FLUSH_S = 60.0


class LakeSink:
    """Sink for the runner loop; `now` passed to checkpoint is epoch seconds (time.time())."""

    group = "lake"
    takes_recommendations = True  # archived with the events; the lake's recommendations view

    def __init__(self, writer: LakeWriter) -> None:
        self._writer = writer
        self._since_file = 0  # records taken since the buffers were last empty
        self._idle = True  # no record since the previous checkpoint
        # shard -> (an erasure's offset, until when): buffers are written at every checkpoint
        # until the writer has read the shard up to that offset (the runner may have dropped
        # the records before it: then until the deadline)
        self._flush_at: dict[int, tuple[int, float]] = {}

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] | None = None
    ) -> LakeSink:
        writer = LakeWriter(
            settings.lake_location,
            settings.lake_flush_bytes,
            settings.lake_flush_interval_s,
            clock or time.time,
        )
        return cls(writer)

    @property
    def writer(self) -> LakeWriter:
        return self._writer

    def write(self, records: Sequence[StreamRecord]) -> None:
        self._writer.add(records)
        self._since_file += len(records)
        self._idle = False

    def release(self, shards: Set[int]) -> None:
        self._writer.release(shards)
        for shard in shards:
            self._flush_at.pop(shard, None)

    def erased(self, marks: Sequence[ErasureMark]) -> None:
        """Drop the marked users' buffered records; flush once read up to each mark."""
        users = marked_users(marks)
        self._writer.forget(users)
        until = time.time() + ERASURE_FLUSH_S
        # Every marked shard, read yet or not: a mark may come before this consumer reads the
        # shard (a process still starting, or one at a lower priority); it then flushes once it
        # has read up to the mark. A shard another consumer of the group reads has its target
        # expire after ERASURE_FLUSH_S (until then this one writes its buffers at each checkpoint).
        for shard, upto in users.items():
            offset = max(self._flush_at.get(shard, (0, 0.0))[0], max(upto.values()))
            self._flush_at[shard] = (offset, until)

    def _erasure_pending(self, now: float) -> bool:
        """Whether an erasure waits for this group; forgets the targets reached or expired."""
        if not self._flush_at:
            return False
        seen = self._writer.seen_offsets()
        for shard, (upto, until) in list(self._flush_at.items()):
            if seen.get(shard, 0) >= upto or now >= until:
                del self._flush_at[shard]
        return True

    def checkpoint(self, now: float) -> Mapping[int, int]:
        if self._erasure_pending(now):
            self._writer.flush()  # an erasure waits for this group's commit
        elif self._idle and self._since_file >= IDLE_FLUSH_MIN_RECORDS:
            self._writer.flush()  # a burst is over: write it now
        else:
            self._writer.flush_due(now)
        if self._writer.buffered_bytes() == 0:
            self._since_file = 0
        self._idle = True
        return self._writer.safe_offsets()

    def close(self) -> Mapping[int, int]:
        return self._writer.close()
