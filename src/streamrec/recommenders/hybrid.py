"""The default recipe: a recency-weighted item-item model blended with next-item transitions.

Three signals, each normalised per user so that their blend weights mean the same on any data:

- ``base``: EASE (small catalogues) or sparse item-kNN (large ones) scoring the user's history,
  with recent events counting more (half-life in events, so it works for sessions and for years);
- ``transitions``: P(next item | recent item) from the order of events, scored from the last few
  items: what users do *next*, which pure co-occurrence models cannot see;
- ``popularity``: a small time-decayed prior that breaks ties for short histories.

The half-life and blend weights are tuned at fit time on a validation split carved from the
training data only (each user's last item, as in the evaluation protocol), never on test data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions
from streamrec.recommenders.ease import ease_weights
from streamrec.recommenders.popularity import decayed_counts
from streamrec.recommenders.sparse import cosine_neighbours, history_matrix, transition_matrix

__all__ = ["Hybrid", "HybridConfig"]

_HALF_LIVES: tuple[float | None, ...] = (2.0, 8.0, 32.0, None)
_TRANSITION_WEIGHTS = (0.0, 0.1, 0.3, 1.0, 3.0, 10.0)
_VALIDATION_CELLS = 50_000_000
_POPULARITY_WEIGHTS = (0.001, 0.05, 0.2)  # never 0: popularity breaks ties


@dataclass(frozen=True)
class HybridConfig:
    base: Literal["auto", "ease", "knn"] = "auto"
    ease_max_items: int = 8_000  # "auto" uses EASE up to here (items seen twice+), item-kNN above
    ease_min_count: int = 2  # an item seen once co-occurs with one user only: no evidence
    ease_regularization: float = 500.0
    knn_k: int = 200
    half_life_events: float | None = 8.0
    transition_weight: float = 0.3
    popularity_weight: float = 0.05
    transition_window: int = 3
    last_items: int = 3  # transitions are scored from this many most recent items
    tune: bool = True
    validation_users: int = 3_000
    seed: int = 0


class Hybrid(Recommender):
    recipe = "hybrid"
    config: HybridConfig

    def __init__(self, **params: Any) -> None:
        super().__init__()
        self.config = HybridConfig(**params)
        self.base_dense = np.zeros((0, 0), np.float32)  # EASE weights, when the base is EASE
        self.base_items = np.zeros(0, np.int32)  # the items EASE covers (seen ease_min_count+)
        self.base_sparse = sp.csr_matrix((0, 0), dtype=np.float32)  # item-kNN otherwise
        self.transitions = sp.csr_matrix((0, 0), dtype=np.float32)
        self.popularity = np.zeros(0, np.float32)

    # -- training ---------------------------------------------------------------------------
    def _fit(self, interactions: Interactions) -> None:
        if self.config.tune:
            self.config = replace(self._tuned(interactions), tune=False)
        self._fit_components(interactions)

    def _fit_components(self, interactions: Interactions) -> None:
        cfg = self.config
        self.n_items = interactions.n_items
        x = interactions.to_csr(binary=True)
        active = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= cfg.ease_min_count)
        if self._uses_ease(active.size):
            self.base_items = active.astype(np.int32)
            self.base_dense = ease_weights(x[:, active], active.size, cfg.ease_regularization)
            self.base_sparse = sp.csr_matrix((0, 0), dtype=np.float32)
        else:
            x = interactions.to_csr()
            x.data = np.log1p(x.data)
            self.base_sparse = cosine_neighbours(x, cfg.knn_k)
            self.base_dense = np.zeros((0, 0), np.float32)
            self.base_items = np.zeros(0, np.int32)
        self.transitions = transition_matrix(interactions, cfg.transition_window)
        # a recent-popularity prior: half-life a tenth of the data's span (trending-like)
        span_days = float(np.ptp(interactions.timestamp)) / 86_400.0 if len(interactions) else 1.0
        pop = decayed_counts(interactions, max(span_days / 10.0, 1e-3), weighted=True)
        self.popularity = (pop / max(float(pop.max()), 1e-9)).astype(np.float32)

    def _uses_ease(self, n_items: int) -> bool:
        base = self.config.base
        return base == "ease" or (base == "auto" and n_items <= self.config.ease_max_items)

    def _tuned(self, interactions: Interactions) -> HybridConfig:
        """Grid search on each user's last item of the training data (the protocol, one step
        earlier); falls back to the configured values when there are too few users for it."""
        from streamrec.training.splits import leave_last_out_split

        split = leave_last_out_split(interactions.user, interactions.item, interactions.timestamp)
        if split.test_users.size < 20:
            return self.config
        rng = np.random.default_rng(self.config.seed)
        # dense validation scores are users x items floats: cap them at ~200 MB per matrix
        n_val = min(
            self.config.validation_users, max(100, _VALIDATION_CELLS // interactions.n_items)
        )
        pick = rng.permutation(split.test_users.size)[:n_val]
        fit_part = interactions.subset(split.train_mask)
        self.config = replace(self.config, tune=False)
        self._fit_components(fit_part)
        users, targets = split.test_users[pick], split.test_items[pick]
        batch = fit_part.histories()
        sub = _select_users(batch, users)
        return self._grid_search(sub, targets)

    def _grid_search(self, batch: HistoryBatch, targets: np.ndarray) -> HybridConfig:
        seen = (batch.rows(), batch.items)
        trans = _row_normalised(self._transition_scores(batch))
        pop = np.broadcast_to(self.popularity, trans.shape)
        best, best_ndcg = self.config, -1.0
        for half_life in _HALF_LIVES:
            base = _row_normalised(self._base_scores(batch, half_life))
            for tw, pw in itertools.product(_TRANSITION_WEIGHTS, _POPULARITY_WEIGHTS):
                scores = base + tw * trans + pw * pop
                scores[seen] = -np.inf
                ndcg = _ndcg_at_10(scores, targets)
                if ndcg > best_ndcg + 1e-9:
                    best_ndcg = ndcg
                    best = replace(
                        self.config,
                        half_life_events=half_life,
                        transition_weight=tw,
                        popularity_weight=pw,
                    )
        self.metadata["validation_ndcg@10"] = round(best_ndcg, 5)
        return best

    # -- scoring ----------------------------------------------------------------------------
    def _base_scores(self, batch: HistoryBatch, half_life: float | None) -> np.ndarray:
        if self.base_dense.size:
            hist = history_matrix(batch, self.n_items, half_life, binary=True)
            active = np.asarray(hist[:, self.base_items] @ self.base_dense, dtype=np.float32)
            # items outside EASE (seen once) rank below all it covers, unless transitions lift them
            floor = active.min(axis=1, keepdims=True) if active.size else 0.0
            scores = np.broadcast_to(floor, (batch.n_users, self.n_items)).copy()
            scores[:, self.base_items] = active
            return scores
        hist = history_matrix(batch, self.n_items, half_life)
        return np.asarray((hist @ self.base_sparse).toarray(), dtype=np.float32)

    def _transition_scores(self, batch: HistoryBatch) -> np.ndarray:
        rank = batch.recency_rank()
        recent = rank < self.config.last_items
        values = np.where(recent, np.exp2(-rank.astype(np.float32)), 0.0).astype(np.float32)
        hist = batch.to_csr(self.n_items, values)
        return np.asarray((hist @ self.transitions).toarray(), dtype=np.float32)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        cfg = self.config
        scores = _row_normalised(self._base_scores(batch, cfg.half_life_events))
        if cfg.transition_weight:
            scores += cfg.transition_weight * _row_normalised(self._transition_scores(batch))
        if cfg.popularity_weight:
            scores += cfg.popularity_weight * self.popularity
        return scores

    # -- persistence ------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        t, b = self.transitions, self.base_sparse
        return {
            "base_dense": self.base_dense,
            "base_items": self.base_items,
            "base_indptr": b.indptr,
            "base_indices": b.indices,
            "base_data": b.data,
            "trans_indptr": t.indptr,
            "trans_indices": t.indices,
            "trans_data": t.data,
            "popularity": self.popularity,
        }

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        n = self.n_items
        self.base_dense = arrays["base_dense"]
        self.base_items = arrays["base_items"]
        b_shape = (n, n) if arrays["base_indptr"].size == n + 1 else (0, 0)
        self.base_sparse = sp.csr_matrix(
            (arrays["base_data"], arrays["base_indices"], arrays["base_indptr"]), shape=b_shape
        )
        self.transitions = sp.csr_matrix(
            (arrays["trans_data"], arrays["trans_indices"], arrays["trans_indptr"]), shape=(n, n)
        )
        self.popularity = arrays["popularity"]


def _row_normalised(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its largest absolute value, so blend weights are scale-free."""
    peak = np.abs(scores).max(axis=1, keepdims=True) if scores.size else scores
    return np.asarray(scores / np.maximum(peak, 1e-9), dtype=np.float32)


def _select_users(batch: HistoryBatch, users: np.ndarray) -> HistoryBatch:
    parts = [batch.slice(int(u), int(u) + 1) for u in users]
    lengths = np.array([p.items.size for p in parts], dtype=np.int64)
    return HistoryBatch(
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        np.concatenate([p.items for p in parts]),
        np.concatenate([p.weights for p in parts]),
        np.concatenate([p.timestamps for p in parts]),
    )


def _ndcg_at_10(scores: np.ndarray, targets: np.ndarray) -> float:
    """Mean NDCG@10 with one target per row (targets outside the catalogue count as misses)."""
    known = (targets >= 0) & (targets < scores.shape[1])
    rows = np.arange(scores.shape[0])[known]
    target_scores = scores[rows, targets[known]]
    rank = (scores[rows] > target_scores[:, None]).sum(axis=1) + 1
    gains = np.where((rank <= 10) & np.isfinite(target_scores), 1.0 / np.log2(rank + 1), 0.0)
    return float(gains.sum() / max(1, scores.shape[0]))
