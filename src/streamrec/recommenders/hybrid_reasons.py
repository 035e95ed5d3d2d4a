"""Why the hybrid scored an item: its terms split by the user's history item behind them.

The hybrid's score of an item is a sum of terms on one scale (each signal divided by the peak of
its row, times its blend weight): the base (EASE or item-kNN) and the transitions are sums over
the user's history items, so each history item's share is its own row entry times its weight;
the popularity prior and the repeat rate are single terms. The reason is the largest of: the
best history item's base plus transition share, the repeat term (the item is the user's own),
the prior. Only the returned items' columns are read: the history rows restricted to them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.one_user import RowEntries
from streamrec.recommenders.reasons import ModelReasons, dense_block, entries_block, strongest

__all__ = ["HybridReasons", "RowPart", "Terms"]


@dataclass(frozen=True)
class RowPart:
    """One signal of a scored row: its weighted history items (model indices, distinct) and the
    raw row whose largest absolute value it was normalised by."""

    items: np.ndarray  # int64
    values: np.ndarray  # float32
    raw: np.ndarray
    entries: RowEntries | None = None  # a sparse product's summed entries (item-kNN, transitions)

    def peak(self) -> float:
        """``_row_normalised``'s divisor of this row."""
        raw = self.raw
        if raw.size == 0:
            return 1e-9
        return max(float(raw.max()), -float(raw.min()), 1e-9)  # max |raw|, without a copy


@dataclass(frozen=True)
class Terms:
    """The hybrid's score of ``targets`` as terms: ``events[h, t]`` is history item
    ``sources[h]``'s base and transition share of target ``t``; then the prior and repeat."""

    targets: np.ndarray
    sources: np.ndarray
    events: np.ndarray  # float64 [sources, targets]
    prior: np.ndarray
    repeat: np.ndarray


@dataclass(frozen=True)
class HybridReasons:
    """One request's explainer: what ``Hybrid.user_scores`` computed, kept for ``__call__``."""

    base: RowPart
    base_matrix: np.ndarray | sp.csr_matrix  # EASE weights (over ``ease_pos``) or item-kNN
    ease_pos: np.ndarray | None  # model item -> row/column of the EASE weights (-1 outside)
    trans: RowPart | None
    transitions: sp.csr_matrix
    transition_weight: float
    popularity: np.ndarray  # the prior, per item
    popularity_weight: float
    repeat_items: np.ndarray  # int64: the user's own items the repeat term reaches
    repeat_terms: np.ndarray  # repeat_weight * rate, per repeat item

    def __call__(self, targets: np.ndarray) -> ModelReasons:
        terms = self.terms(np.asarray(targets, np.int64))
        events = strongest(terms.events, terms.sources)
        return ModelReasons.decide(targets.tolist(), events, terms.prior.tolist(), self._own())

    def terms(self, targets: np.ndarray) -> Terms:
        """The score of each target split into its terms (exact for items the base covers;
        EASE's floor, the score of an item it does not cover, is no history item's)."""
        sources = self.base.items  # every history item: the transitions' few are among them
        block = self._base_block(targets) / self.base.peak()
        trans = self.trans
        if trans is not None and trans.entries is not None and self.transition_weight:
            scale = self.transition_weight / trans.peak()
            part = entries_block(trans.entries, targets, self.transitions.shape[1])
            block[np.searchsorted(sources, trans.items)] += scale * part
        prior = self.popularity_weight * self.popularity[targets].astype(np.float64)  # as scored
        return Terms(targets, sources, block, prior, self._repeat(targets))

    def _base_block(self, targets: np.ndarray) -> np.ndarray:
        items, values = self.base.items, self.base.values
        if self.ease_pos is None:
            assert self.base.entries is not None
            return entries_block(self.base.entries, targets, self.base_matrix.shape[1])
        assert isinstance(self.base_matrix, np.ndarray)
        return dense_block(self.ease_pos[items], values, self.base_matrix, self.ease_pos[targets])

    def _repeat(self, targets: np.ndarray) -> np.ndarray:
        own = self._own()
        return (
            np.array([own.get(t, 0.0) for t in targets.tolist()]) if own else np.zeros(targets.size)
        )

    def _own(self) -> dict[int, float]:
        """The repeat term per own item the repeat signal reaches."""
        if not self.repeat_items.size:
            return {}
        return dict(zip(self.repeat_items.tolist(), self.repeat_terms.tolist(), strict=True))
