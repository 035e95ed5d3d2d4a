"""The ``recent-distinct`` baseline: the user's own last distinct items, most recent first.

EVALUATION.md's next-event protocol names it: in session data 29-42% of next events are an item
already in the sequence, and this baseline catches exactly those. It learns nothing but item
popularity, which only orders the items after the user's own (users with fewer than ``n``
distinct items; the served path breaks such ties by popularity too).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions

__all__ = [
    "LastDistinct",
    "RecentDistinct",
    "RecentDistinctConfig",
    "last_distinct",
    "popularity_share",
]

OWN_ITEM_BASE = 2.0  # a user's own recent items score above 2; everything else below 1
FILL_SCALE = 0.5  # popularity, for the slots after the user's own items, stays under this


@dataclass(frozen=True)
class LastDistinct:
    """Each history's last ``k`` distinct items: row in the batch, item, 0 for the newest."""

    rows: np.ndarray  # int64
    items: np.ndarray  # int64
    rank: np.ndarray  # int64


def last_distinct(batch: HistoryBatch, k: int) -> LastDistinct:
    """The last ``k`` distinct items of every history, by position (events are oldest first, so
    equal timestamps keep their order). Reads the batch, never writes to it."""
    rows = batch.rows()
    items = np.asarray(batch.items, dtype=np.int64)
    order = np.lexsort((batch.recency_rank(), rows))  # row by row, newest first
    r, it = rows[order], items[order]
    width = int(items.max()) + 1 if items.size else 1
    _, first = np.unique(r * width + it, return_index=True)  # newest event of each (row, item)
    first = np.sort(first)
    r, it = r[first], it[first]
    rank = np.arange(r.size) - np.searchsorted(r, r, side="left")
    keep = rank < k
    return LastDistinct(r[keep], it[keep], rank[keep])


def popularity_share(interactions: Interactions) -> np.ndarray:
    """Events per item divided by the top item's (0 to 1), float32."""
    counts = np.bincount(interactions.item, minlength=interactions.n_items).astype(np.float64)
    top = counts.max(initial=0.0)
    return (counts / top if top > 0 else counts).astype(np.float32)


@dataclass(frozen=True)
class RecentDistinctConfig:
    n_recent: int = 10  # the user's own last distinct items ranked first


class RecentDistinct(Recommender):
    recipe = "recent-distinct"

    def __init__(self, n_recent: int = 10) -> None:
        super().__init__()
        self.config = RecentDistinctConfig(n_recent)
        self.popularity = np.zeros(0, dtype=np.float32)

    def _fit(self, interactions: Interactions) -> None:
        self.popularity = popularity_share(interactions)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        scores = np.tile(FILL_SCALE * self.popularity, (batch.n_users, 1))
        own = last_distinct(batch, self.config.n_recent)
        scores[own.rows, own.items] = own_item_scores(own.rank, self.config.n_recent)
        return scores

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.popularity = arrays["popularity"]


def own_item_scores(rank: np.ndarray, k: int) -> np.ndarray:
    """Scores in (OWN_ITEM_BASE, OWN_ITEM_BASE + 1], newest highest, for ranks 0..k-1."""
    return (OWN_ITEM_BASE + (k - rank) / max(k, 1)).astype(np.float32)
