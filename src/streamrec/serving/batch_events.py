"""A chunk of users' real-time state as arrays over the serving space, for batch inference.

What ``RecommendationService`` derives from one user's ``UserEvent`` list (the items in the
space, the items they may not be recommended, the events that count under
``event_value_thresholds``, the history the model scores), derived for a whole chunk at once
from one store read (``UserStateStore.states_of``): each per-event lookup is done once per
distinct event type, and the rest is array indexing.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping, Sequence

import numpy as np

from streamrec.event_thresholds import EventThresholds
from streamrec.filters import UserInteractions
from streamrec.recommenders.data import HistoryBatch, event_type_codes
from streamrec.serving.models import ModelView
from streamrec.serving.space import ItemSpace
from streamrec.stores.base import UserStateStore
from streamrec.stores.user_states import UserStates

__all__ = ["ChunkEvents", "ModelHistories"]


@dataclasses.dataclass(frozen=True)
class ModelHistories:
    """The chunk's histories as the model scores them: ``batch`` row ``k`` is user ``rows[k]``
    (users with no event on an item the model knows have no row)."""

    rows: np.ndarray
    batch: HistoryBatch


@dataclasses.dataclass(frozen=True)
class ChunkEvents:
    """Event ``e`` of the chunk is user ``rows[e]``'s, on space item ``items[e]`` (-1: unknown
    to the space), of type ``type_names[kinds[e]]``; each user's events oldest first."""

    states: UserStates
    rows: np.ndarray  # int64
    items: np.ndarray  # int64
    kinds: np.ndarray  # int64
    type_names: list[str]

    @classmethod
    def read(
        cls, store: UserStateStore, space: ItemSpace, user_ids: Sequence[str], limit: int
    ) -> ChunkEvents:
        """The users' newest ``limit`` events and excluded items, in one read."""
        states = store.states_of(user_ids, limit)
        codes = {name: k for k, name in enumerate(dict.fromkeys(states.event_types))}
        n = len(states.event_types)
        kinds = np.fromiter(map(codes.__getitem__, states.event_types), np.int64, n)
        items = space.indices(states.item_ids)
        return cls(states, states.rows(), items, kinds, list(codes))

    @property
    def n_users(self) -> int:
        return len(self.states.keys)

    def per_type(self, values: Mapping[str, float], default: float) -> np.ndarray:
        """``values`` of each event's type (``default`` for a type not in it)."""
        table = np.array([values.get(name, default) for name in self.type_names], np.float64)
        return table[self.kinds] if table.size else np.zeros(0)

    def interactions(self, user: int) -> UserInteractions:
        """``RecommendationService._interactions`` of the user's events."""
        lo, hi = int(self.states.starts[user]), int(self.states.starts[user + 1])
        if lo == hi:
            return UserInteractions.empty()
        return UserInteractions(
            items=self.items[lo:hi],
            event_types=np.array(self.states.event_types[lo:hi], dtype=object),
            values=self.states.values[lo:hi],
            timestamps=self.states.timestamps[lo:hi],
        )

    def blocked(
        self, hidden: np.ndarray, space: ItemSpace, seen_types: Collection[str]
    ) -> np.ndarray:
        """``RecommendationService._blocked`` of every user ([users, size]): the hidden items,
        and with ``seen_types`` the items of their events of those types and their excluded
        items (``exclude_seen_event_types``)."""
        size = hidden.size
        blocked = np.tile(hidden, (self.n_users, 1))
        if not seen_types:
            return blocked
        seen = self.per_type({t: 1.0 for t in seen_types}, 0.0) > 0
        rows, items = self.rows[seen], self.items[seen]
        ok = (items >= 0) & (items < size)
        blocked[rows[ok], items[ok]] = True
        excluded = space.indices(self.states.excluded_ids)
        excluded_rows = self.states.excluded_rows()
        ok = (excluded >= 0) & (excluded < size)
        blocked[excluded_rows[ok], excluded[ok]] = True
        return blocked

    def counted(self, thresholds: EventThresholds) -> np.ndarray:
        """Which events count (``EventThresholds.mask``): none below its type's threshold."""
        least = self.per_type(thresholds.thresholds, np.nan)
        return ~(self.states.values < least)  # no value or no threshold (NaN): counts

    def model_histories(
        self, view: ModelView, weights: Mapping[str, float], counted: np.ndarray
    ) -> ModelHistories:
        """The counted events on items the model knows, weighted by type, as one batch
        (``RecommendationService._history`` of each user)."""
        model_items = view.model_index(self.items)
        use = counted & (model_items >= 0)
        rows = self.rows[use]
        users = np.unique(rows)
        lengths = np.bincount(rows, minlength=self.n_users)[users]
        type_codes = event_type_codes(self.type_names)[self.kinds] if self.type_names else None
        batch = HistoryBatch(
            indptr=np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
            items=model_items[use].astype(np.int32),
            weights=self.per_type(weights, 1.0)[use].astype(np.float32),
            timestamps=self.states.timestamps[use],
            event_types=type_codes[use] if type_codes is not None else np.zeros(0, np.int8),
        )
        return ModelHistories(users, batch)
