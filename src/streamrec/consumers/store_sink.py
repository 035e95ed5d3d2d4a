"""Sinks for the stores (history, real-time user state): apply each batch at once, atomically with
the stream position it reaches, so the store itself knows where a replay must start."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from streamrec.stores.base import PositionedSink
from streamrec.stream.base import StreamRecord


def next_offsets(records: Sequence[StreamRecord]) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in records:
        if r.offset + 1 > out.get(r.shard, 0):
            out[r.shard] = r.offset + 1
    return out


class StoreSink:
    """Applies batches to a PositionedSink store; every applied batch is durable, so safe offsets
    are simply the store's own positions."""

    def __init__(self, group: str, store: PositionedSink) -> None:
        self._group = group
        self._store = store
        self._safe = dict(store.positions())

    @property
    def group(self) -> str:
        return self._group

    def write(self, records: Sequence[StreamRecord]) -> None:
        reached = next_offsets(records)
        self._store.apply(records, reached)
        for shard, offset in reached.items():
            self._safe[shard] = max(self._safe.get(shard, 0), offset)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        return dict(self._safe)

    def close(self) -> Mapping[int, int]:
        return dict(self._safe)
