"""A recommendation request without arrays over the whole item space.

The service's dense path (``RecommendationService._personal`` and ``top_items``) fills a score per
item of the space, adds the stream's co-occurrence, masks and takes the top n. When the model can
score one history in sparse form (``Recommender.user_scores``), this module ranks the same items
from the candidates alone: the model's candidates and the stream's, with exact scores, plus as
much of the head of the model's prior order as the top n needs; hidden, bought and excluded
items are index sets. Same float operations, same tie-break (lower space index first), so the
result is the dense path's, item for item.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from streamrec.recommenders.one_user import UserScores, marked, top_n, unique
from streamrec.serving.models import ModelView

__all__ = ["Exclusions", "SparseScores"]


@dataclass(frozen=True)
class Exclusions:
    """Items a request must not return: the catalogue's hidden mask (shorter than the space
    where items came later) and a sorted set of space indices."""

    hidden: np.ndarray  # bool
    size: int  # the request's space size: later items are past every array it read
    drop: np.ndarray  # int64, non-negative

    @classmethod
    def of(cls, hidden: np.ndarray, size: int, *index_sets: np.ndarray) -> Exclusions:
        parts = [np.asarray(s, dtype=np.int64) for s in index_sets]
        drop = unique(np.concatenate(parts)) if parts else np.zeros(0, np.int64)
        return cls(hidden, size, drop[drop >= 0])

    def __call__(self, idx: np.ndarray) -> np.ndarray:
        out = np.asarray(idx >= self.size)
        inside = idx < self.hidden.size
        out[inside] |= self.hidden[idx[inside]]
        out |= marked(idx, self.drop)
        return out


@dataclass(frozen=True)
class SparseScores:
    """One request's scores in the space: exact ones for ``idx``, the model's rule for the rest
    of its items (along ``order``); every other item of the space scores -inf."""

    idx: np.ndarray  # int64 space indices, unique (any order)
    scores: np.ndarray  # float64
    model: UserScores
    order: np.ndarray  # int64 space indices: the model's rest order
    contiguous: bool  # space index == model index (ties along ``order`` stay in index order)

    @classmethod
    def of(cls, view: ModelView, user: UserScores) -> SparseScores:
        idx = view.to_space[user.items]
        return cls(idx, user.scores.astype(np.float64), user, view.in_space(user.order),
                   view.contiguous)  # fmt: skip

    def with_stream(self, view: ModelView, idx: np.ndarray, term: np.ndarray) -> SparseScores:
        """The stream's ``term`` added where the dense path adds it: to the model's score of
        an item it knows, alone for an item the model has never seen."""
        model_idx = view.model_index(idx)
        current = np.full(idx.size, -np.inf)
        known = model_idx >= 0
        current[known] = self.model.at(model_idx[known])
        added = np.where(np.isfinite(current), current + term, term)
        keep = ~marked(self.idx, idx)
        return SparseScores(np.concatenate([self.idx[keep], idx]),
                            np.concatenate([self.scores[keep], added]), self.model, self.order,
                            self.contiguous)  # fmt: skip

    def top(
        self, n: int, blocked: Callable[[np.ndarray], np.ndarray]
    ) -> tuple[np.ndarray, np.ndarray]:
        """The best ``n`` (space indices, float64 scores), as ``top_items`` would rank them."""
        user, model_order = self.model, self.model.order

        def rest(pos: np.ndarray) -> np.ndarray:
            return user.rest(model_order[pos]).astype(np.float64)

        ties = user.ties_in_order and self.contiguous
        return top_n((self.idx, self.scores), self.order, rest, n, blocked, ties)
