"""The common, batch-first model interface every recipe implements.

A model is fitted on ``Interactions`` and then scores *histories*, not user ids: the serving layer
hands over each user's recent events (kept in real time), so a user the model never saw gets
personalised results from the first click, and no model needs retraining to reflect new events.
Each recipe only implements ``_fit``, ``_score`` (dense scores for a batch of histories) and its
arrays for save/load; top-k selection, exclusion, re-ranking and persistence live here, once.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import numpy as np

from streamrec.errors import ModelError
from streamrec.recommenders.data import HistoryBatch, Interactions, UserHistory
from streamrec.recommenders.one_user import UserScores, member, top_n, unique
from streamrec.recommenders.reasons import POPULAR, ModelReasons, leave_one_in
from streamrec.recommenders.vocab import Vocabulary

__all__ = ["MIN_INTERACTIONS", "MIN_ITEMS", "Histories", "Recommender", "StreamBlend", "top_k"]

MIN_INTERACTIONS = 10
MIN_ITEMS = 2
_EXPLAIN_SOURCES = 10  # leave-one-in reasons look at the user's last this many distinct items
_BATCH = 512  # users scored at once: bounds the dense score matrix to _BATCH x n_items floats

Histories = Sequence[UserHistory] | HistoryBatch


@dataclass(frozen=True)
class StreamBlend:
    """How the service adds the stream's real-time co-occurrence to this model's scores: the
    rows of the user's last ``last_items`` events (halving per step back), scaled to a maximum
    of 1, times ``weight``. A learned part of the model (0 unless a recipe tunes it)."""

    weight: float = 0.0
    last_items: int = 3


def top_k(scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` columns per row, best first, equal scores by ascending column (so any path
    that computes the same scores, such as one_user.top_n, returns the same ranking); -inf
    scores come back as index -1 (padding)."""
    n_rows, n_cols = scores.shape
    n = min(n, n_cols)
    if n <= 0:
        return np.zeros((n_rows, 0), np.int32), np.zeros((n_rows, 0), np.float32)
    if n < n_cols:
        idx = np.argpartition(-scores, n - 1, axis=1)[:, :n]
        _settle_ties(scores, idx)
    else:
        idx = np.tile(np.arange(n_cols), (n_rows, 1))
    vals = np.take_along_axis(scores, idx, axis=1)
    order = np.lexsort((idx, -vals), axis=1)
    idx = np.take_along_axis(idx, order, axis=1).astype(np.int32)
    vals = np.take_along_axis(vals, order, axis=1).astype(np.float32)
    idx[~np.isfinite(vals)] = -1
    return idx, vals


def _settle_ties(scores: np.ndarray, idx: np.ndarray) -> None:
    """Where more columns than fit tie at a row's n-th best score, take the lowest of them
    (argpartition picks any); rows whose n-th best is -inf are padding there anyway."""
    kth = np.take_along_axis(scores, idx, axis=1).min(axis=1)
    chosen = (np.take_along_axis(scores, idx, axis=1) == kth[:, None]).sum(axis=1)
    tied = (scores == kth[:, None]).sum(axis=1)
    for row in np.flatnonzero((tied > chosen) & np.isfinite(kth)):
        better = np.flatnonzero(scores[row] > kth[row])
        level = np.flatnonzero(scores[row] == kth[row])
        idx[row] = np.concatenate([better, level[: idx.shape[1] - better.size]])


def as_batch(histories: Histories) -> HistoryBatch:
    return (
        histories
        if isinstance(histories, HistoryBatch)
        else HistoryBatch.from_histories(list(histories))
    )


class Recommender(ABC):
    """Base of every recipe. Subclasses set ``recipe`` and a frozen dataclass ``config``."""

    recipe: ClassVar[str]
    config: Any

    def __init__(self) -> None:
        self.n_items = 0
        self.item_vocab: Vocabulary | None = None
        self.metadata: dict[str, Any] = {}

    # -- training ---------------------------------------------------------------------------
    def fit(self, interactions: Interactions) -> None:
        """Train on ``interactions``; raises ModelError when there is too little data."""
        check_enough_data(interactions)
        started = time.perf_counter()
        self.n_items = interactions.n_items
        self.metadata = {}
        self._fit(interactions)
        ts = interactions.timestamp
        self.metadata |= {
            "n_users": interactions.n_users,
            "n_items": interactions.n_items,
            "n_interactions": len(interactions),
            "data_start": float(ts.min()),
            "data_end": float(ts.max()),
            "train_time_s": round(time.perf_counter() - started, 4),
        }

    @abstractmethod
    def _fit(self, interactions: Interactions) -> None: ...

    @abstractmethod
    def _score(self, batch: HistoryBatch) -> np.ndarray:
        """Dense float32 scores [batch users, n_items]; higher is better."""

    # -- serving ----------------------------------------------------------------------------
    def score(self, histories: Histories) -> np.ndarray:
        """Dense scores for every item, one row per history (items unknown to the model dropped)."""
        self._require_fitted()
        batch = as_batch(histories).known(self.n_items)
        return np.asarray(self._score(batch), dtype=np.float32)

    def recommend(
        self,
        histories: Histories,
        n: int = 10,
        exclude_seen: bool = True,
        exclude: Sequence[np.ndarray] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top ``n`` item indices and scores per history, shape [n_users, n], best first.

        ``exclude_seen`` drops the items in each history; ``exclude`` adds per-user items to drop.
        Rows with fewer than ``n`` candidates are padded with index -1 and score -inf.
        """
        self._require_fitted()
        batch = as_batch(histories).known(self.n_items)
        ids, vals = [], []
        for start in range(0, batch.n_users, _BATCH):
            stop = min(start + _BATCH, batch.n_users)
            part = batch.slice(start, stop)
            scores = np.array(self._score(part), dtype=np.float32)
            self._mask(scores, part, exclude_seen, exclude, start)
            i, v = top_k(scores, n)
            ids.append(i)
            vals.append(v)
        if not ids:
            return np.zeros((0, n), np.int32), np.zeros((0, n), np.float32)
        return np.concatenate(ids), np.concatenate(vals)

    def user_scores(self, history: UserHistory) -> UserScores | None:
        """One history's scores in sparse form (one_user.py), for a request; None where the
        recipe has none (its dense ``score`` row is then what a request uses)."""
        return None

    def recommend_user(
        self,
        history: UserHistory,
        n: int = 10,
        exclude_seen: bool = True,
        exclude: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """``recommend`` for one history: the same row of items and scores, computed without
        a dense row where the recipe has ``user_scores``."""
        self._require_fitted()
        scores = self.user_scores(history)
        if scores is None:
            ids, vals = self.recommend([history], n, exclude_seen, None if exclude is None
                                       else [exclude])  # fmt: skip
            return ids[0], vals[0]
        drop = [history.items] if exclude_seen else []
        drop += [] if exclude is None else [np.asarray(exclude, dtype=np.int64)]
        banned = unique(np.concatenate(drop)) if drop else np.zeros(0, np.int64)
        idx, vals = top_n((scores.items, scores.scores), scores.order, _rest_of(scores), n,
                          lambda items: member(items, banned), scores.ties_in_order)  # fmt: skip
        width = min(n, self.n_items)
        ids = np.full(width, -1, np.int32)
        out = np.full(width, -np.inf, np.float32)
        ids[: idx.size], out[: idx.size] = idx, vals
        return ids, out

    def _mask(
        self,
        scores: np.ndarray,
        part: HistoryBatch,
        exclude_seen: bool,
        exclude: Sequence[np.ndarray] | None,
        offset: int,
    ) -> None:
        if exclude_seen and part.items.size:
            scores[part.rows(), part.items] = -np.inf
        if exclude is not None:
            for row in range(part.n_users):
                drop = np.asarray(exclude[offset + row], dtype=np.int64)
                drop = drop[(drop >= 0) & (drop < self.n_items)]
                scores[row, drop] = -np.inf

    def stream_blend(self) -> StreamBlend:
        """The weight of the stream's co-occurrence next to this model (see StreamBlend)."""
        return StreamBlend()

    def explain(self, history: UserHistory, items: np.ndarray) -> ModelReasons:
        """Why this model scores ``items`` (model indices) for ``history``: from the sparse
        scoring's own explainer where the recipe has one, else leave-one-in over the user's last
        few distinct items (each scored alone; one batch of a few rows)."""
        self._require_fitted()
        sparse = self.user_scores(history)
        if sparse is not None and sparse.explain is not None:
            return sparse.explain(items)
        known = history.items[(history.items >= 0) & (history.items < self.n_items)]
        sources = np.array(list(dict.fromkeys(known[::-1].tolist()))[:_EXPLAIN_SOURCES], np.int64)
        if sources.size == 0:
            return ModelReasons.all(POPULAR, items.size)
        singles = self.score([UserHistory.of([int(i)]) for i in sources])
        return leave_one_in(singles, sources, np.asarray(items, np.int64))

    def score_items(self, history: UserHistory, candidates: np.ndarray) -> np.ndarray:
        """Scores of ``candidates`` for one user (personalised re-ranking); unknown items -inf."""
        cand = np.asarray(candidates, dtype=np.int64)
        scores = self.score([history])[0]
        known = (cand >= 0) & (cand < self.n_items)
        out = np.full(cand.size, -np.inf, dtype=np.float32)
        out[known] = scores[cand[known]]
        return out

    def similar_items(self, item: int, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """Items most related to ``item`` (itself excluded): the model scoring a 1-item history."""
        self._require_fitted()
        if not 0 <= item < self.n_items:
            raise ModelError(f"item index {item} is not known to this model")
        ids, vals = self.recommend([UserHistory.of([item])], n)
        return ids[0], vals[0]

    def _require_fitted(self) -> None:
        if self.n_items == 0:
            raise ModelError(f"the {self.recipe} model is not trained yet")

    # -- persistence ------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        return dict(asdict(self.config))

    @abstractmethod
    def _arrays(self) -> dict[str, np.ndarray]:
        """Every learned array, to store with ``np.savez`` (no pickles)."""

    @abstractmethod
    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Inverse of ``_arrays``; shapes and dtypes are already checked."""


def _rest_of(scores: UserScores) -> Callable[[np.ndarray], np.ndarray]:
    """The rule's scores at positions of ``scores.order``."""
    return lambda pos: scores.rest(scores.order[pos])


def check_enough_data(interactions: Interactions) -> None:
    n_items = int(np.unique(interactions.item).size) if len(interactions) else 0
    if len(interactions) < MIN_INTERACTIONS or n_items < MIN_ITEMS:
        raise ModelError(
            f"training needs at least {MIN_INTERACTIONS} interactions on at least {MIN_ITEMS} "
            f"distinct items; got {len(interactions)} interactions on {n_items} items"
        )
