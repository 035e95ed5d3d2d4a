"""Several users' real-time state read at once (``UserStateStore.states_of``), column by column.

Batch jobs answer hundreds of users a second: one query per user and one ``UserEvent`` per event
cost more than the scoring (33% of ``recommend-batch`` on MovieLens 100K). A backend reads a
chunk of keys in one round trip and hands back rows; :meth:`UserStates.of_rows` lays them out as
columns that the batch scorer turns into arrays for the whole chunk.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamrec.stores.base import UserEvent

__all__ = ["UserStates"]


@dataclasses.dataclass(frozen=True)
class UserStates:
    """Key ``k``'s recent events, oldest first as ``recent_events`` returns them, are rows
    ``starts[k]:starts[k + 1]`` of the event columns; its excluded items (``excluded_items``)
    are ``excluded_ids[excluded_starts[k]:excluded_starts[k + 1]]``."""

    keys: Sequence[str]
    starts: np.ndarray  # int64, len(keys) + 1
    item_ids: list[str]
    event_types: list[str]
    timestamps: np.ndarray  # float64
    values: np.ndarray  # float64, NaN where an event has no value
    excluded_starts: np.ndarray  # int64, len(keys) + 1
    excluded_ids: list[str]

    @classmethod
    def of_rows(
        cls,
        keys: Sequence[str],
        events: Sequence[Sequence[Any]],
        excluded: Sequence[Sequence[Any]],
        limit: int,
    ) -> UserStates:
        """From ``(key position, item_id, event_type, timestamp, value or None, seq)`` rows
        in any order (seq: the store's order of events of equal time), of which each key keeps
        its newest ``limit``, and ``(key position, item_id)`` rows in any order."""
        positions, items, types, stamps, values, seqs = _columns(events, 6)
        pos = np.array(positions, dtype=np.int64)
        ts = np.array(stamps, dtype=np.float64)
        order = np.lexsort((np.array(seqs, dtype=np.int64), ts, pos))
        order = order[_newest(pos[order], limit)]
        ex_positions, ex_items = _columns(excluded, 2)
        ex_pos = np.array(ex_positions, dtype=np.int64)
        ex_order = np.argsort(ex_pos, kind="stable")
        return cls(
            keys=keys,
            starts=_starts(pos[order], len(keys)),
            item_ids=_taken(items, order),
            event_types=_taken(types, order),
            timestamps=ts[order],
            values=np.array(values, dtype=np.float64)[order],  # None becomes NaN
            excluded_starts=_starts(ex_pos[ex_order], len(keys)),
            excluded_ids=_taken(ex_items, ex_order),
        )

    def events(self, k: int) -> list[UserEvent]:
        """Key ``k``'s events as ``recent_events`` returns them."""
        rows = range(int(self.starts[k]), int(self.starts[k + 1]))
        return [
            UserEvent(
                self.item_ids[r],
                self.event_types[r],
                float(self.timestamps[r]),
                None if np.isnan(self.values[r]) else float(self.values[r]),
            )
            for r in rows
        ]

    def excluded(self, k: int) -> set[str]:
        """Key ``k``'s excluded items, as ``excluded_items`` returns them."""
        return set(self.excluded_ids[self.excluded_starts[k] : self.excluded_starts[k + 1]])

    def rows(self) -> np.ndarray:
        """The key position of every event row."""
        return np.repeat(np.arange(len(self.keys)), np.diff(self.starts))

    def excluded_rows(self) -> np.ndarray:
        """The key position of every excluded item."""
        return np.repeat(np.arange(len(self.keys)), np.diff(self.excluded_starts))


def _columns(rows: Sequence[Sequence[Any]], width: int) -> list[tuple[Any, ...]]:
    return list(zip(*rows, strict=True)) if rows else [()] * width


def _newest(positions: np.ndarray, limit: int) -> np.ndarray:
    """Which rows are among the ``limit`` newest of their key (sorted positions, each key's
    rows oldest first)."""
    ends = np.searchsorted(positions, positions, side="right")
    return np.asarray(ends - np.arange(positions.size) <= limit)


def _taken(column: Sequence[str], order: np.ndarray) -> list[str]:
    """``column`` in ``order`` (a store usually hands its rows over in order already)."""
    if order.size == len(column) and not np.any(order[1:] < order[:-1]):
        return list(column)
    return [column[i] for i in order.tolist()]


def _starts(sorted_positions: np.ndarray, n_keys: int) -> np.ndarray:
    """Where each key's rows start (and the end), from the rows' sorted key positions."""
    return np.searchsorted(sorted_positions, np.arange(n_keys + 1)).astype(np.int64)
