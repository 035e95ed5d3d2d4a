"""The ``recent-cooc`` baseline: "recent 5 + co-occurrence of the last 5" (EVALUATION.md).

The user's own last ``n_recent`` distinct items come first, most recent first; then the items
that share the most training sequences with those items (binary co-occurrence: in how many
users' histories both appear, summed over the recent items); then popularity, for users whose
recent items co-occur with fewer than ``n`` others. The co-occurrence is pruned to the
``neighbours`` strongest entries per item, which leaves every top-10 list of a short history
unchanged and keeps the matrix sparse.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions
from streamrec.recommenders.recent import (
    FILL_SCALE,
    last_distinct,
    own_item_scores,
    popularity_share,
)
from streamrec.recommenders.sparse import prune_top_k

__all__ = ["RecentCooc", "RecentCoocConfig", "cooccurrence"]

_BLOCK_ITEMS = 2048  # rows of the co-occurrence computed at once (bounds peak memory)


@dataclass(frozen=True)
class RecentCoocConfig:
    n_recent: int = 5  # the user's own last distinct items: ranked first and used as seeds
    neighbours: int = 200  # co-occurring items kept per item


def cooccurrence(interactions: Interactions, neighbours: int) -> sp.csr_matrix:
    """items x items: the number of users (sequences) holding both items, diagonal zero, the
    ``neighbours`` largest entries per row kept."""
    x = interactions.to_csr(binary=True)
    xt = sp.csr_matrix(x.T)
    parts = []
    for start in range(0, interactions.n_items, _BLOCK_ITEMS):
        block = sp.csr_matrix(xt[start : start + _BLOCK_ITEMS] @ x)
        block = sp.csr_matrix(block - sp.diags(block.diagonal(start), start, shape=block.shape))
        parts.append(prune_top_k(block, neighbours))
    if not parts:
        return sp.csr_matrix((0, 0), dtype=np.float32)
    return sp.csr_matrix(sp.vstack(parts), dtype=np.float32)


class RecentCooc(Recommender):
    recipe = "recent-cooc"

    def __init__(self, n_recent: int = 5, neighbours: int = 200) -> None:
        super().__init__()
        self.config = RecentCoocConfig(n_recent, neighbours)
        self.cooc = sp.csr_matrix((0, 0), dtype=np.float32)
        self.popularity = np.zeros(0, dtype=np.float32)

    def _fit(self, interactions: Interactions) -> None:
        self.cooc = cooccurrence(interactions, self.config.neighbours)
        self.popularity = popularity_share(interactions)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        k = self.config.n_recent
        own = last_distinct(batch, k)
        seeds = sp.csr_matrix(
            (np.ones(own.rows.size, np.float32), (own.rows, own.items)),
            shape=(batch.n_users, self.n_items),
        )
        together = np.asarray((seeds @ self.cooc).toarray(), dtype=np.float32)
        top = together.max(axis=1, keepdims=True, initial=0.0)
        # co-occurring items in [1, 2), the rest by popularity in [0, FILL_SCALE]
        scores = np.where(
            together > 0,
            1.0 + together / np.maximum(top, 1.0) * 0.999,
            FILL_SCALE * self.popularity,
        ).astype(np.float32)
        scores[own.rows, own.items] = own_item_scores(own.rank, k)
        return scores

    def _arrays(self) -> dict[str, np.ndarray]:
        c = self.cooc
        return {
            "indptr": c.indptr,
            "indices": c.indices,
            "data": c.data,
            "popularity": self.popularity,
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        n = self.n_items
        self.cooc = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n)
        )
        self.popularity = arrays["popularity"]
