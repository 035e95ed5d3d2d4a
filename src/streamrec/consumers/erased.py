"""Consumers drop an erased user's events up to the erasure's stream position.

An erasure (:mod:`streamrec.erasure`) records a mark in the user-state store's ledger: the
user's shard, the shard's head offset at the time (``upto``) and the SHA-256 digest of the user
id (the ledger never holds the id itself). Every consumer runner, in any process, reads the marks
it has not seen before each batch (and every ``IDLE_REFRESH_S`` when idle) and drops the records
of a marked user below ``upto``: events still in the stream when the erasure came do not re-create
history or user-state rows, lake rows or in-memory counts. Events the user sends afterwards are
kept (a new start).

A dropped record is never written to the sink, so the sink's safe offsets may stop before it:
:class:`SkippedRuns` lets the runner commit past runs of dropped records that follow what the sink
made durable, or the erasure would wait for a commit that never comes.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol, runtime_checkable

from streamrec.stores.base import ErasureMark
from streamrec.stream.base import StreamRecord

__all__ = [
    "IDLE_REFRESH_S",
    "ErasedFilter",
    "ErasureAwareSink",
    "ErasureLedger",
    "SkippedRuns",
    "marked_users",
    "user_digest",
]

IDLE_REFRESH_S = 1.0


def user_digest(user_id: str) -> str:
    """How the ledger and the erasure jobs name a user once the id itself must be gone."""
    return hashlib.sha256(user_id.encode("utf-8")).hexdigest()


class ErasureLedger(Protocol):
    def erasures(self, after: int = 0) -> list[ErasureMark]: ...


@runtime_checkable
class ErasureAwareSink(Protocol):
    """A sink that holds events beyond the batch it is given (the lake writer's buffers, a
    serving process's in-memory state): told of new marks, it forgets the marked users' events
    below them."""

    def erased(self, marks: Sequence[ErasureMark]) -> None: ...


def marked_users(marks: Iterable[ErasureMark]) -> dict[int, dict[str, int]]:
    """shard -> digest -> the offset below which that user's events are erased."""
    out: dict[int, dict[str, int]] = {}
    for mark in marks:
        upto = out.setdefault(mark.shard, {})
        upto[mark.digest] = max(upto.get(mark.digest, 0), mark.upto)
    return out


class ErasedFilter:
    """The marks one runner knows. :meth:`refresh` returns the new ones: the runner hands them
    to a sink that holds events of its own (:class:`ErasureAwareSink`)."""

    def __init__(self, ledger: ErasureLedger, clock: Callable[[], float] = time.monotonic) -> None:
        self._ledger = ledger
        self._clock = clock
        self._after = 0
        self._upto: dict[int, dict[str, int]] = {}  # shard -> digest -> erased below this
        self._highest: dict[int, int] = {}  # shard -> the highest upto of its marks
        self._refreshed_at = -math.inf

    def refresh(self) -> list[ErasureMark]:
        """Read the marks recorded since the last read; returns them."""
        self._refreshed_at = self._clock()
        marks = self._ledger.erasures(self._after)
        for mark in marks:
            upto = self._upto.setdefault(mark.shard, {})
            upto[mark.digest] = max(upto.get(mark.digest, 0), mark.upto)
            self._highest[mark.shard] = max(self._highest.get(mark.shard, 0), mark.upto)
            self._after = max(self._after, mark.mark_id)
        return marks

    def refresh_when_idle(self) -> list[ErasureMark]:
        if self._clock() - self._refreshed_at >= IDLE_REFRESH_S:
            return self.refresh()
        return []

    def split(
        self, records: Sequence[StreamRecord]
    ) -> tuple[list[StreamRecord], list[StreamRecord]]:
        """(records to keep, records of erased users below their marks), each in stream order.
        Only records below a shard's highest mark are hashed."""
        if not self._highest:
            return list(records), []
        kept: list[StreamRecord] = []
        dropped: list[StreamRecord] = []
        digests: dict[str, str] = {}
        for r in records:
            if r.offset >= self._highest.get(r.shard, 0):
                kept.append(r)
                continue
            user = r.event.user_id
            digest = digests.get(user)
            if digest is None:
                digest = digests[user] = user_digest(user)
            if r.offset < self._upto[r.shard].get(digest, 0):
                dropped.append(r)
            else:
                kept.append(r)
        return kept, dropped


class SkippedRuns:
    """Per shard, runs of consecutive dropped offsets ``[start, end)``; a safe offset that
    reaches the start of a run moves to its end."""

    def __init__(self) -> None:
        self._runs: dict[int, dict[int, int]] = {}  # shard -> start -> end
        self._ends: dict[int, dict[int, int]] = {}  # shard -> end -> start
        self._first: dict[int, int] = {}  # shard -> first offset polled (where reading began)

    def polled(self, records: Iterable[StreamRecord]) -> None:
        for r in records:
            self._first.setdefault(r.shard, r.offset)

    def add(self, dropped: Iterable[StreamRecord]) -> None:
        for r in dropped:
            runs = self._runs.setdefault(r.shard, {})
            ends = self._ends.setdefault(r.shard, {})
            start = ends.pop(r.offset, r.offset)
            end = max(runs.get(start, r.offset + 1), r.offset + 1)
            runs[start] = end
            ends[end] = start

    def advance(self, safe: Mapping[int, int]) -> dict[int, int]:
        """``safe`` moved past the runs that begin where it stops (or where reading began, for a
        shard the sink has nothing of); runs below it are forgotten."""
        out = dict(safe)
        for shard, runs in self._runs.items():
            if not runs:
                continue
            ends = self._ends[shard]
            offset = out.get(shard, self._first.get(shard))
            if offset is None:
                continue
            while offset in runs:
                end = runs.pop(offset)
                del ends[end]
                offset = end
            for start in [s for s, e in runs.items() if e <= offset]:
                del ends[runs.pop(start)]
            if offset != out.get(shard, self._first.get(shard)) or shard in out:
                out[shard] = offset
        return out

    def release(self, shards: Iterable[int]) -> None:
        for shard in shards:
            self._runs.pop(shard, None)
            self._ends.pop(shard, None)
            self._first.pop(shard, None)
