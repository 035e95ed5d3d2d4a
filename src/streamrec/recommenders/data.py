"""The arrays models train on and score from: Interactions (training) and histories (serving).

Models never see string ids: users and items are dense int32 indices, weights float32,
timestamps float64 unix seconds, event types small int codes into ``EVENT_TYPES``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from streamrec.config import DEFAULT_EVENT_TYPE_WEIGHTS

__all__ = [
    "DEFAULT_EVENT_WEIGHTS",
    "EVENT_TYPES",
    "EventWeights",
    "HistoryBatch",
    "Interactions",
    "UserHistory",
    "event_type_codes",
    "type_codes_of",
]

EVENT_TYPES: tuple[str, ...] = (
    "view",
    "click",
    "add_to_cart",
    "purchase",
    "rating",
    "impression",
    "other",
)
# the one default table (config.py's, which serving uses too); types not in it weigh 1
DEFAULT_EVENT_WEIGHTS: dict[str, float] = dict(DEFAULT_EVENT_TYPE_WEIGHTS)


_CODE_OF: dict[str, int] = {name: i for i, name in enumerate(EVENT_TYPES)}
_OTHER = _CODE_OF["other"]
# One request's history is a few dozen events: a dictionary lookup per event beats sorting them
# (np.unique on objects); a training table's millions of rows take the np.unique path.
_SHORT = 256


def event_type_codes(names: Sequence[str] | np.ndarray) -> np.ndarray:
    """int8 code of each event type name; names outside ``EVENT_TYPES`` become ``other``."""
    if not len(names):
        return np.zeros(0, dtype=np.int8)
    if len(names) <= _SHORT:
        return np.fromiter(map(_code_of, names), np.int8, len(names))
    uniq, inverse = np.unique(np.asarray(names, dtype=object), return_inverse=True)
    codes = np.array([_code_of(str(u)) for u in uniq], dtype=np.int8)
    return codes[inverse]


def _code_of(name: str) -> int:
    code = _CODE_OF.get(name)
    return code if code is not None else _CODE_OF.get(name.lower(), _OTHER)


def type_codes_of(names: Sequence[str]) -> frozenset[int]:
    """The codes of some event type names (unknown names map to ``other``)."""
    return frozenset(int(c) for c in event_type_codes(list(names))) if names else frozenset()


@dataclass(frozen=True)
class EventWeights:
    """How much one event of each type counts (a purchase says more than a view)."""

    weights: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_EVENT_WEIGHTS))

    def table(self) -> np.ndarray:
        """float32 weight per event-type code, for vectorised lookups."""
        return np.array([self.weights.get(n, 1.0) for n in EVENT_TYPES], dtype=np.float32)

    def of(self, codes: np.ndarray) -> np.ndarray:
        return self.table()[np.asarray(codes, dtype=np.int64)]


@dataclass(frozen=True)
class Interactions:
    """Training events, sorted by timestamp (ties in input order)."""

    user: np.ndarray  # int32 [n]
    item: np.ndarray  # int32 [n]
    weight: np.ndarray  # float32 [n]
    timestamp: np.ndarray  # float64 [n]
    event_type: np.ndarray  # int8 [n]
    n_users: int
    n_items: int

    @classmethod
    def build(
        cls,
        user: np.ndarray,
        item: np.ndarray,
        timestamp: np.ndarray | None = None,
        weight: np.ndarray | None = None,
        event_type: np.ndarray | None = None,
        n_users: int | None = None,
        n_items: int | None = None,
    ) -> Interactions:
        """Coerce dtypes, fill defaults (weight 1, ts = position, type view) and sort by time."""
        n = len(user)
        ts = np.arange(n, dtype=np.float64) if timestamp is None else np.asarray(timestamp)
        order = np.argsort(ts, kind="stable")
        u = np.asarray(user, dtype=np.int32)[order]
        i = np.asarray(item, dtype=np.int32)[order]
        w = np.ones(n, np.float32) if weight is None else np.asarray(weight, np.float32)[order]
        et = np.zeros(n, np.int8) if event_type is None else np.asarray(event_type, np.int8)[order]
        return cls(
            u,
            i,
            w,
            np.asarray(ts, dtype=np.float64)[order],
            et,
            int(u.max()) + 1 if n_users is None else n_users,
            int(i.max()) + 1 if n_items is None else n_items,
        )

    def __len__(self) -> int:
        return int(self.user.size)

    def to_csr(self, binary: bool = False) -> sp.csr_matrix:
        """users x items, weights summed over repeated events (or 1 per pair when binary)."""
        data = np.ones(len(self), np.float32) if binary else self.weight
        mat = sp.csr_matrix(
            (data, (self.user, self.item)), shape=(self.n_users, self.n_items), dtype=np.float32
        )
        mat.sum_duplicates()
        if binary:
            mat.data[:] = 1.0
        return mat

    def histories(self) -> HistoryBatch:
        """Every user's events in time order: what the serving layer would hold for them."""
        order = np.lexsort((np.arange(len(self)), self.user))
        counts = np.bincount(self.user, minlength=self.n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return HistoryBatch(
            indptr,
            self.item[order],
            self.weight[order],
            self.timestamp[order],
            self.event_type[order],
        )

    def subset(self, mask: np.ndarray) -> Interactions:
        """The events where ``mask`` is true, keeping the index spaces."""
        return Interactions(
            self.user[mask],
            self.item[mask],
            self.weight[mask],
            self.timestamp[mask],
            self.event_type[mask],
            self.n_users,
            self.n_items,
        )


@dataclass(frozen=True)
class UserHistory:
    """One user's recent events, oldest first (the serving layer keeps about the last 200)."""

    items: np.ndarray  # int32
    weights: np.ndarray  # float32
    timestamps: np.ndarray  # float64
    event_types: np.ndarray | None = None  # int8 codes into EVENT_TYPES; None: all "view"

    @classmethod
    def of(
        cls,
        items: Sequence[int] | np.ndarray,
        weights: Sequence[float] | np.ndarray | None = None,
        timestamps: Sequence[float] | np.ndarray | None = None,
        event_types: Sequence[int] | np.ndarray | None = None,
    ) -> UserHistory:
        it = np.asarray(items, dtype=np.int32).reshape(-1)
        w = np.ones(it.size, np.float32) if weights is None else np.asarray(weights, np.float32)
        ts = np.arange(it.size, dtype=np.float64) if timestamps is None else timestamps
        et = np.zeros(it.size, np.int8) if event_types is None else event_types
        return cls(it, w, np.asarray(ts, dtype=np.float64), np.asarray(et, dtype=np.int8))

    def types(self) -> np.ndarray:
        return _types(self.event_types, self.items.size)

    @classmethod
    def empty(cls) -> UserHistory:
        return cls.of([])


@dataclass(frozen=True)
class HistoryBatch:
    """Many users' histories in CSR layout: rows are users, entries are events in time order."""

    indptr: np.ndarray  # int64 [n_users + 1]
    items: np.ndarray  # int32
    weights: np.ndarray  # float32
    timestamps: np.ndarray  # float64
    event_types: np.ndarray | None = None  # int8 codes into EVENT_TYPES; None: all "view"

    @classmethod
    def from_histories(cls, histories: Sequence[UserHistory]) -> HistoryBatch:
        lengths = np.array([h.items.size for h in histories], dtype=np.int64)
        indptr = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        if not histories:
            return cls(indptr, np.zeros(0, np.int32), np.zeros(0, np.float32), np.zeros(0))
        return cls(
            indptr,
            np.concatenate([h.items for h in histories]).astype(np.int32),
            np.concatenate([h.weights for h in histories]).astype(np.float32),
            np.concatenate([h.timestamps for h in histories]).astype(np.float64),
            np.concatenate([h.types() for h in histories]).astype(np.int8),
        )

    def types(self) -> np.ndarray:
        """int8 event-type code of every entry."""
        return _types(self.event_types, self.items.size)

    def select(self, entries: np.ndarray) -> HistoryBatch:
        """The entries where the bool mask ``entries`` is true, rows kept (some may be empty)."""
        counts = np.bincount(self.rows()[entries], minlength=self.n_users)
        indptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return HistoryBatch(
            indptr,
            self.items[entries],
            self.weights[entries],
            self.timestamps[entries],
            self.types()[entries],
        )

    def take_rows(self, rows: np.ndarray) -> HistoryBatch:
        """A batch of the given rows (users), in the given order."""
        starts, stops = self.indptr[rows], self.indptr[np.asarray(rows) + 1]
        lengths = stops - starts
        idx = (
            np.concatenate([np.arange(a, b) for a, b in zip(starts, stops, strict=True)])
            if len(rows)
            else np.zeros(0, np.int64)
        ).astype(np.int64)
        return HistoryBatch(
            np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            self.items[idx],
            self.weights[idx],
            self.timestamps[idx],
            self.types()[idx],
        )

    def last_events(self, limit: int | None) -> HistoryBatch:
        """Each row cut to its ``limit`` most recent events (what serving folds in)."""
        if limit is None or not self.items.size:
            return self
        return self.select(self.recency_rank() < limit)

    @property
    def n_users(self) -> int:
        return int(self.indptr.size - 1)

    def rows(self) -> np.ndarray:
        """Row (user in batch) of every entry."""
        return np.repeat(np.arange(self.n_users), np.diff(self.indptr))

    def recency_rank(self) -> np.ndarray:
        """0 for each user's most recent event, 1 for the one before, and so on."""
        ends = self.indptr[1:][self.rows()] if self.items.size else np.zeros(0, np.int64)
        return (ends - 1 - np.arange(self.items.size)).astype(np.int64)

    def known(self, n_items: int) -> HistoryBatch:
        """Drop events on items the model does not know (newer than its training data)."""
        keep = (self.items >= 0) & (self.items < n_items)
        if keep.all():
            return self
        return self.select(keep)

    def slice(self, start: int, stop: int) -> HistoryBatch:
        lo, hi = int(self.indptr[start]), int(self.indptr[stop])
        return HistoryBatch(
            self.indptr[start : stop + 1] - lo,
            self.items[lo:hi],
            self.weights[lo:hi],
            self.timestamps[lo:hi],
            self.types()[lo:hi],
        )

    def to_csr(self, n_items: int, values: np.ndarray | None = None) -> sp.csr_matrix:
        """users x items with ``values`` (default: the weights), summed over repeats."""
        data = self.weights if values is None else values
        # copies: scipy keeps the arrays it is given and sum_duplicates() sorts them in place,
        # which would reorder this batch's events by item index (and so lose their time order)
        mat = sp.csr_matrix(
            (np.array(data, np.float32), self.items.copy(), self.indptr.copy()),
            shape=(self.n_users, n_items),
        )
        mat.sum_duplicates()
        return mat


def _types(codes: np.ndarray | None, size: int) -> np.ndarray:
    if codes is None or codes.size != size:
        return np.zeros(size, np.int8)
    return np.asarray(codes, dtype=np.int8)
