"""The default recipe: a recency-weighted item-item model blended with next-item transitions.

Three signals, each normalised per user so that their blend weights mean the same on any data:

- ``base``: EASE (small catalogues) or sparse item-kNN (large ones) scoring the user's history,
  with recent events counting more (half-life in events, so it works for sessions and for years);
- ``transitions``: P(next item | recent item) from the order of events, scored from the last few
  items: what users do *next*, which pure co-occurrence models cannot see;
- ``popularity``: a prior on what is popular *now*, relative to the end of training: either the
  weighted events of trending's recent window (``window``) or counts decayed with a half-life of a
  tenth of the data's span (``decayed``).

The half-life, blend weights and prior are tuned at fit time on a validation split carved from the
training data only (each user's last item, as in the evaluation protocol), never on test data.
With too few validation cases whose target the model could reach to tell settings apart (tiny
data, where item-item statistics are noise too), no tuning happens and the recent-window prior
leads, more so the less evidence there is: the empirical-Bayes move of shrinking towards the prior.
A switch away from the default prior needs a paired gain of more than one standard error.
Large training sets tune on a sample of users with a coarser grid so that training stays affordable.
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
from streamrec.recommenders.popularity import decayed_counts, window_counts
from streamrec.recommenders.sparse import cosine_neighbours, history_matrix, transition_matrix

__all__ = ["Hybrid", "HybridConfig"]

Prior = Literal["window", "decayed"]


@dataclass(frozen=True)
class _Grid:
    """Candidate settings searched on validation, every combination of the three."""

    half_lives: tuple[float | None, ...]
    transition_weights: tuple[float, ...]
    popularity_weights: tuple[float, ...]  # never 0: popularity breaks ties


_FULL_GRID = _Grid((2.0, 8.0, 32.0, None), (0.0, 0.1, 0.3, 1.0, 3.0, 10.0), (0.001, 0.05, 0.2, 1.0))
# above _LARGE_EVENTS the tuning fit is the dominant cost: a coarser grid, fewer users, and the
# tuning fit on a sample of users (the blend is scale-free, so its weights carry over)
_COARSE_GRID = _Grid((8.0, None), (0.3, 1.0, 3.0, 10.0), (0.05, 0.2, 1.0))
_LARGE_EVENTS = 300_000
_LARGE_VALIDATION_USERS = 500
_LARGE_TUNING_USERS = 0.5  # share of the other users whose events the tuning fit keeps
_VALIDATION_CELLS = 50_000_000
_PRIORS: tuple[Prior, ...] = ("decayed", "window")
_TIE_BREAK_SHARE = 1e-3  # with no evidence at all the personalised signals only break ties


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
    prior: Prior = "decayed"
    prior_window_s: float = 7 * 86_400.0  # trending's default window
    transition_window: int = 3
    last_items: int = 3  # transitions are scored from this many most recent items
    tune: bool = True
    validation_users: int = 3_000
    # below this many reachable validation cases one hit moves NDCG by > 2%: too noisy to tune
    min_validation_cases: int = 50
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
        self.popularity = self._prior(interactions, cfg.prior)

    def _uses_ease(self, n_items: int) -> bool:
        base = self.config.base
        return base == "ease" or (base == "auto" and n_items <= self.config.ease_max_items)

    def _prior(self, interactions: Interactions, kind: Prior) -> np.ndarray:
        """Popularity relative to the end of training, scaled to [0, 1]. ``window``: weighted
        events of the last ``prior_window_s`` (ties, and items outside it, ordered by the
        decayed counts); ``decayed``: counts with a half-life of a tenth of the data's span."""
        span_days = float(np.ptp(interactions.timestamp)) / 86_400.0 if len(interactions) else 1.0
        decayed = _scaled(decayed_counts(interactions, max(span_days / 10.0, 1e-3), True))
        if kind == "decayed":
            return decayed
        recent = _scaled(window_counts(interactions, self.config.prior_window_s))
        return _scaled(recent + 1e-2 * decayed)

    def _tuned(self, interactions: Interactions) -> HybridConfig:
        """Grid search on each user's last item of the training data (the protocol, one step
        earlier); with too few informative validation cases, the recent-window prior leads."""
        from streamrec.training.splits import leave_last_out_split

        cfg = self.config
        split = leave_last_out_split(interactions.user, interactions.item, interactions.timestamp)
        # a case whose target never occurs in the tuning fit is a miss for every setting: no
        # information about which is better, so only reachable cases count as evidence
        known = np.bincount(interactions.item[split.train_mask], minlength=interactions.n_items)
        reachable = int((known[split.test_items] > 0).sum())
        if reachable < cfg.min_validation_cases:
            return self._fallback(reachable)
        large = len(interactions) > _LARGE_EVENTS
        rng = np.random.default_rng(cfg.seed)
        # dense validation scores are users x items floats: cap them at ~200 MB per matrix
        n_val = min(cfg.validation_users, max(100, _VALIDATION_CELLS // interactions.n_items))
        n_val = min(n_val, _LARGE_VALIDATION_USERS) if large else n_val
        pick = np.sort(rng.permutation(split.test_users.size)[:n_val])
        users, targets = split.test_users[pick], split.test_items[pick]
        keep = split.train_mask
        if large:  # the tuning fit sees the validation users and a sample of the others
            sampled = rng.random(interactions.n_users) < _LARGE_TUNING_USERS
            sampled[users] = True
            keep = keep & sampled[interactions.user]
        fit_part = interactions.subset(keep)
        self.config = replace(cfg, tune=False)
        self._fit_components(fit_part)
        priors = {kind: self._prior(fit_part, kind) for kind in _PRIORS}
        sub = _select_users(fit_part.histories(), users)
        self.metadata["tuning"] = f"validation ({users.size} users)"
        return self._grid_search(sub, targets, priors, _COARSE_GRID if large else _FULL_GRID)

    def _fallback(self, n_validation: int) -> HybridConfig:
        """Too few reachable validation cases to tune: shrink towards the recent-window prior in
        proportion to the missing evidence (the personalised signals weigh n /
        min_validation_cases of the prior), so tiny data is served mostly by what is popular now
        and, with no evidence at all, the personalised signals only break near-ties."""
        cfg = self.config
        self.metadata["tuning"] = f"prior fallback ({n_validation} reachable validation cases)"
        share = max(n_validation / cfg.min_validation_cases, _TIE_BREAK_SHARE)
        return replace(cfg, prior="window", popularity_weight=1.0 / share)

    def _grid_search(
        self,
        batch: HistoryBatch,
        targets: np.ndarray,
        priors: dict[Prior, np.ndarray],
        grid: _Grid,
    ) -> HybridConfig:
        """Every (half-life, transition weight, prior weight) with the default prior; then the
        other priors at the best half-life and transition weight (a coordinate step: cheap),
        adopted only when clearly better on validation (the default prior is the safe choice)."""
        seen = (batch.rows(), batch.items)
        trans = _row_normalised(self._transition_scores(batch))
        best, best_gains = self.config, np.full(targets.size, -1.0)
        for half_life in grid.half_lives:
            base = _row_normalised(self._base_scores(batch, half_life))
            for tw in grid.transition_weights:
                blend = base + tw * trans
                for pw in grid.popularity_weights:
                    gains = _blend_gains(blend, pw * priors[_PRIORS[0]], seen, targets)
                    if gains.mean() > best_gains.mean() + 1e-9:
                        best_gains = gains
                        best = replace(best, half_life_events=half_life, transition_weight=tw,
                                       popularity_weight=pw, prior=_PRIORS[0])  # fmt: skip
        base = _row_normalised(self._base_scores(batch, best.half_life_events))
        blend = base + best.transition_weight * trans
        for kind, pw in itertools.product(_PRIORS[1:], grid.popularity_weights):
            gains = _blend_gains(blend, pw * priors[kind], seen, targets)
            if _clearly_better(gains, best_gains):
                best_gains, best = gains, replace(best, popularity_weight=pw, prior=kind)
        best_ndcg = float(best_gains.mean())
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
        self.base_dense = np.ascontiguousarray(arrays["base_dense"])
        self.base_items = arrays["base_items"]
        b_shape = (n, n) if arrays["base_indptr"].size == n + 1 else (0, 0)
        self.base_sparse = sp.csr_matrix(
            (arrays["base_data"], arrays["base_indices"], arrays["base_indptr"]), shape=b_shape
        )
        self.transitions = sp.csr_matrix(
            (arrays["trans_data"], arrays["trans_indices"], arrays["trans_indptr"]), shape=(n, n)
        )
        self.popularity = arrays["popularity"]


def _scaled(values: np.ndarray) -> np.ndarray:
    """float32 copy divided by its maximum (all zeros stay zeros)."""
    return (values / max(float(values.max(initial=0.0)), 1e-9)).astype(np.float32)


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


def _blend_gains(
    blend: np.ndarray, prior: np.ndarray, seen: tuple[np.ndarray, np.ndarray], targets: np.ndarray
) -> np.ndarray:
    scores = blend + prior
    scores[seen] = -np.inf
    return _ndcg_gains(scores, targets)


def _ndcg_gains(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """NDCG@10 of each row, one target per row (targets outside the catalogue are misses)."""
    gains = np.zeros(scores.shape[0])
    known = np.flatnonzero((targets >= 0) & (targets < scores.shape[1]))
    target_scores = scores[known, targets[known]]
    rank = (scores[known] > target_scores[:, None]).sum(axis=1) + 1
    hit = (rank <= 10) & np.isfinite(target_scores)
    gains[known] = np.where(hit, 1.0 / np.log2(rank + 1), 0.0)
    return gains


def _clearly_better(challenger: np.ndarray, incumbent: np.ndarray) -> bool:
    """Paired test on per-user gains: the mean gain exceeds one standard error of it, so a
    switch away from the default needs evidence, not a lucky handful of validation users."""
    diff = challenger - incumbent
    return bool(diff.mean() > diff.std() / np.sqrt(max(1, diff.size)))
