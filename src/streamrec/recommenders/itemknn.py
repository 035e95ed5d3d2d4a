"""Item-kNN: cosine similarity of co-occurrence with per-event-type weights (Personalize SIMS).

The similarity is pruned to the top ``k`` neighbours per item and kept sparse, so scoring a user
is one sparse vector-matrix product: fast for 100,000 items and fine for users never seen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions, UserHistory
from streamrec.recommenders.one_user import (
    UserScores,
    history_row,
    one_user_batch,
    sparse_row_product,
)
from streamrec.recommenders.sparse import cosine_neighbours, history_matrix

__all__ = ["ItemKNN", "ItemKNNConfig"]


@dataclass(frozen=True)
class ItemKNNConfig:
    k: int = 100  # neighbours kept per item
    shrink: float = 0.0  # added to the cosine denominator: damps pairs seen only a few times
    binary: bool = False  # True: plain co-occurrence; False: event-type weights
    half_life_events: float | None = None  # recency weighting of the history at scoring time


class ItemKNN(Recommender):
    recipe = "item-knn"

    def __init__(
        self,
        k: int = 100,
        shrink: float = 0.0,
        binary: bool = False,
        half_life_events: float | None = None,
    ) -> None:
        super().__init__()
        self.config = ItemKNNConfig(k, shrink, binary, half_life_events)
        self.similarity = sp.csr_matrix((0, 0), dtype=np.float32)
        self._order = np.zeros(0, np.int64)  # every item in index order, for user_scores

    def _fit(self, interactions: Interactions) -> None:
        user_items = interactions.to_csr(binary=self.config.binary)
        if not self.config.binary:
            # log damping: fifty views of one item must not drown a purchase elsewhere
            user_items.data = np.log1p(user_items.data).astype(np.float32)
        self.similarity = cosine_neighbours(user_items, self.config.k, self.config.shrink)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        cfg = self.config
        hist = history_matrix(batch, self.n_items, cfg.half_life_events, cfg.binary)
        return np.asarray((hist @ self.similarity).toarray(), dtype=np.float32)

    def user_scores(self, history: UserHistory) -> UserScores:
        """The ``_score`` row of one history: the neighbours of its items exactly, every other
        item 0 (ties in index order)."""
        cfg = self.config
        batch = one_user_batch(history, self.n_items, None)
        items, values = history_row(batch, self.n_items, cfg.half_life_events, cfg.binary)
        cols, sums = sparse_row_product(items, values, self.similarity)
        if self._order.size != self.n_items:
            self._order = np.arange(self.n_items, dtype=np.int64)
        prior = np.zeros(0, np.float32)  # unused: rest_weight 0
        return UserScores(cols, sums, self._order, prior, ties_in_order=True)

    def _arrays(self) -> dict[str, np.ndarray]:
        s = self.similarity
        return {"indptr": s.indptr, "indices": s.indices, "data": s.data}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        n = self.n_items
        self.similarity = sp.csr_matrix(
            (arrays["data"], arrays["indices"], arrays["indptr"]), shape=(n, n)
        )
