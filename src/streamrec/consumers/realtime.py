"""The ``realtime`` consumer group's sink: the user-state store (each user's last events, per-item
activity) and, in the same pass, the serving process's in-memory stream state (popularity,
trending, co-occurrence of consecutive events: :mod:`streamrec.serving.stream_state`).

The store is the durable, idempotent part (it skips records below its stored positions). The
in-memory state follows the same rule from the positions of its snapshot (or of the store, when
it was warmed from it), so a replay after a restart does not count events twice; see
:mod:`streamrec.serving.state_snapshot`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streamrec.consumers.store_sink import StoreSink
from streamrec.serving.state_snapshot import StateFeed
from streamrec.stores.base import ErasureMark, UserStateStore
from streamrec.stream.base import StreamRecord

__all__ = ["RealtimeSink", "StreamTailSink"]


class RealtimeSink:
    """The store, and the in-memory state through its :class:`StateFeed` (which skips what the
    state already counted and writes the periodic snapshot)."""

    def __init__(self, store: UserStateStore, feed: StateFeed) -> None:
        self._inner = StoreSink("realtime", store)
        self._feed = feed

    @property
    def group(self) -> str:
        return self._inner.group

    def write(self, records: Sequence[StreamRecord]) -> None:
        self._inner.write(records)
        self._feed.feed(records)

    def erased(self, marks: Sequence[ErasureMark]) -> None:
        """Forget erased users in the in-memory state (and rewrite its snapshot)."""
        self._feed.forget({mark.digest for mark in marks})

    def checkpoint(self, now: float) -> Mapping[int, int]:
        safe = self._inner.checkpoint(now)
        self._feed.maybe_save()
        return safe

    def close(self) -> Mapping[int, int]:
        safe = self._inner.close()
        self._feed.save()
        return safe


class StreamTailSink:
    """Keeps an API-only process's in-memory stream state (popularity, trending, co-occurrence)
    current by tailing the stream under a private group that never commits.

    ``streamrec api`` runs no ``realtime`` consumer of its own, yet serves from the same in-memory
    counts as ``serve``. The tail reads the stream from its oldest retained record; the feed skips
    what the restored (or warmed) state already holds. Once it has read up to the stream's heads
    at start (``start_heads``), the state is complete and snapshots may be written.
    """

    def __init__(self, group: str, feed: StateFeed, start_heads: Mapping[int, int]) -> None:
        self._group = group
        self._feed = feed
        self._start_heads = dict(start_heads)
        self._seen: dict[int, int] = {}

    @property
    def group(self) -> str:
        return self._group

    def write(self, records: Sequence[StreamRecord]) -> None:
        self._feed.feed(records)
        for r in records:
            self._seen[r.shard] = r.offset + 1

    def erased(self, marks: Sequence[ErasureMark]) -> None:
        """Forget erased users in the in-memory state (and rewrite its snapshot)."""
        self._feed.forget({mark.digest for mark in marks})

    def checkpoint(self, now: float) -> Mapping[int, int]:
        if not self._feed.ready.is_set() and all(
            self._seen.get(s, 0) >= head for s, head in self._start_heads.items()
        ):
            self._feed.skip_to(self._start_heads)
            self._feed.ready.set()
        self._feed.maybe_save()
        return {}  # a private, throw-away group: nothing to commit

    def close(self) -> Mapping[int, int]:
        self._feed.save()
        return {}
