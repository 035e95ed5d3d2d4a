"""Personalize's ``eventValueThreshold``: per event type, the least ``event_value`` an event needs
to count (a rating below 3, a watch under 30 seconds say nothing good about an item).

Events below their type's threshold are left out of training (the lake's table, before the split)
and of the real-time state (popularity, trending, co-occurrence and the named recommenders'
counts), and the request path does not fold them into the user's history. They are still stored:
the user's history, erasure and the exclusion of items the user rated (``exclude_seen_event_types``)
see them. An event without a value, or of a type without a threshold, always counts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["EventThresholds"]


class _Valued(Protocol):
    @property
    def event_type(self) -> str: ...
    @property
    def event_value(self) -> float | None: ...


V = TypeVar("V", bound=_Valued)


class EventThresholds:
    def __init__(self, thresholds: Mapping[str, float] | None = None) -> None:
        self.thresholds = dict(thresholds or {})

    def __bool__(self) -> bool:
        return bool(self.thresholds)

    def counts(self, event_type: str, value: float | None) -> bool:
        """Whether one event counts: no threshold for its type, no value, or not below it."""
        least = self.thresholds.get(event_type)
        return least is None or value is None or value >= least

    def kept(self, events: Sequence[V]) -> list[V]:
        """The events that count, in their order (the same list when nothing has a threshold)."""
        if not self.thresholds:
            return list(events)
        return [e for e in events if self.counts(e.event_type, e.event_value)]

    def mask(self, events: Sequence[_Valued]) -> np.ndarray:
        return np.fromiter(
            (self.counts(e.event_type, e.event_value) for e in events), np.bool_, len(events)
        )

    def filter_table(self, table: pa.Table) -> pa.Table:
        """The lake table's rows that count (all when no threshold is set)."""
        names = table.column_names
        if not self.thresholds or "event_value" not in names or "event_type" not in names:
            return table
        types = table.column("event_type")
        values = table.column("event_value").cast(pa.float64())
        below = pa.array(np.zeros(len(table), np.bool_))
        for event_type, least in self.thresholds.items():
            low = pc.and_(pc.equal(types, event_type), pc.less(values, least))
            below = pc.or_(below, pc.fill_null(low, False))
        return table.filter(pc.invert(below))
