"""The ``realtime`` consumer group's sink: the user-state store (each user's last events, per-item
activity) and, in the same pass, the serving process's in-memory stream state (popularity,
trending, co-occurrence of consecutive events: :mod:`streamrec.serving.stream_state`).

The store is the durable, idempotent part (it skips records below its stored positions). The
in-memory state follows the same rule from the positions it started at, so a replay after a
restart does not count events twice; what was counted before a restart is rebuilt from the store
(popularity, trending) or relearnt from new events (co-occurrence).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streamrec.consumers.admission import ItemAdmission
from streamrec.consumers.store_sink import StoreSink
from streamrec.serving.stream_state import StreamState
from streamrec.stores.base import UserStateStore
from streamrec.stream.base import StreamRecord

__all__ = ["RealtimeSink", "StreamTailSink"]


def feed_fresh(
    state: StreamState,
    fed: dict[int, int],
    records: Sequence[StreamRecord],
    admission: ItemAdmission | None = None,
) -> None:
    """Count the records at or past `fed` (per shard) into `state`, and move `fed` past them;
    with `admission`, only records of admitted items are counted."""
    fresh = [r for r in records if r.offset >= fed.get(r.shard, 0)]
    for r in fresh:
        if r.offset + 1 > fed.get(r.shard, 0):
            fed[r.shard] = r.offset + 1
    state.update(fresh if admission is None else admission.admit(fresh))


class RealtimeSink:
    def __init__(
        self, store: UserStateStore, state: StreamState, admission: ItemAdmission | None = None
    ) -> None:
        self._inner = StoreSink("realtime", store)
        self._state = state
        self._fed = dict(store.positions())
        self._admission = admission

    @property
    def group(self) -> str:
        return self._inner.group

    def write(self, records: Sequence[StreamRecord]) -> None:
        self._inner.write(records)
        feed_fresh(self._state, self._fed, records, self._admission)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        return self._inner.checkpoint(now)

    def close(self) -> Mapping[int, int]:
        return self._inner.close()


class StreamTailSink:
    """Keeps an API-only process's in-memory stream state (popularity, trending, co-occurrence)
    current by tailing the stream under a private group that never commits.

    ``streamrec api`` runs no ``realtime`` consumer of its own, yet serves from the same in-memory
    counts as ``serve``. The state was warmed from the user-state store, which holds everything
    below the store's positions, so only records past them are counted.
    """

    def __init__(
        self,
        group: str,
        state: StreamState,
        start: Mapping[int, int],
        admission: ItemAdmission | None = None,
    ) -> None:
        self._group = group
        self._state = state
        self._fed = dict(start)
        self._admission = admission

    @property
    def group(self) -> str:
        return self._group

    def write(self, records: Sequence[StreamRecord]) -> None:
        feed_fresh(self._state, self._fed, records, self._admission)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        return {}  # a private, throw-away group: nothing to commit

    def close(self) -> Mapping[int, int]:
        return {}
