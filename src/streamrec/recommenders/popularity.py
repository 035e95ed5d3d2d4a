"""Non-personalised recipes: time-decayed popularity (cold-start fallback) and trending.

``TrendingCounter`` keeps trending scores up to date from a stream of (item, timestamp) events
with no training at all; the ``trending`` recipe is the same computation run over a batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions, UserHistory
from streamrec.recommenders.reasons import POPULAR, TRENDING, ModelReasons

__all__ = [
    "Popularity",
    "PopularityConfig",
    "Trending",
    "TrendingConfig",
    "TrendingCounter",
    "decayed_counts",
    "trending_scores",
    "window_counts",
]


@dataclass(frozen=True)
class PopularityConfig:
    """``half_life_days``: an event that old counts half; None counts every event fully."""

    half_life_days: float | None = 60.0
    weighted: bool = True  # use per-event-type weights instead of counting events


def decayed_counts(
    interactions: Interactions, half_life_days: float | None, weighted: bool
) -> np.ndarray:
    """Sum of (weighted) events per item, each discounted by its age at the end of the data."""
    w = interactions.weight.astype(np.float64) if weighted else np.ones(len(interactions))
    if half_life_days is not None and len(interactions):
        age_days = (interactions.timestamp.max() - interactions.timestamp) / 86_400.0
        w = w * np.exp2(-age_days / half_life_days)
    return np.bincount(interactions.item, weights=w, minlength=interactions.n_items)


def window_counts(interactions: Interactions, window_s: float) -> np.ndarray:
    """Sum of weighted events per item in the last ``window_s`` seconds before the end of the
    data: trending's "recent" window, used as a what-is-hot-now prior."""
    ts = interactions.timestamp
    recent = ts > (float(ts.max()) - window_s) if ts.size else np.zeros(0, bool)
    w = interactions.weight[recent].astype(np.float64)
    return np.bincount(interactions.item[recent], weights=w, minlength=interactions.n_items)


class _ItemScoreRecipe(Recommender):
    """A recipe whose score is one vector shared by every user."""

    reason_kind: ClassVar[int] = POPULAR

    def __init__(self) -> None:
        super().__init__()
        self.item_scores = np.zeros(0, dtype=np.float32)

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        return np.broadcast_to(self.item_scores, (batch.n_users, self.n_items))

    def explain(self, history: UserHistory, items: np.ndarray) -> ModelReasons:
        """No history moves these scores: every item is there for the prior itself."""
        return ModelReasons.all(self.reason_kind, np.asarray(items).size)

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_scores": self.item_scores}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_scores = arrays["item_scores"]


class Popularity(_ItemScoreRecipe):
    recipe = "popularity"
    reason_kind = POPULAR

    def __init__(self, half_life_days: float | None = 60.0, weighted: bool = True) -> None:
        super().__init__()
        self.config = PopularityConfig(half_life_days, weighted)

    def _fit(self, interactions: Interactions) -> None:
        cfg = self.config
        counts = decayed_counts(interactions, cfg.half_life_days, cfg.weighted)
        self.item_scores = counts.astype(np.float32)


@dataclass(frozen=True)
class TrendingConfig:
    """Compare the last ``window_s`` with the window before it (Personalize Trending-Now)."""

    window_s: float = 7 * 86_400.0
    smoothing: float = 2.0  # pseudo-count: a 1 -> 3 jump must not outrank a 100 -> 200 one


def trending_scores(recent: np.ndarray, previous: np.ndarray, smoothing: float) -> np.ndarray:
    """Growth of the interaction rate, damped for small counts.

    (recent - previous) / sqrt(previous + smoothing): a Poisson z-score of the change, so items
    whose rate rises by many standard deviations come first and rare items are not noise-driven.
    """
    r = np.asarray(recent, np.float64)
    p = np.asarray(previous, np.float64)
    return ((r - p) / np.sqrt(p + smoothing)).astype(np.float32)


class Trending(_ItemScoreRecipe):
    recipe = "trending"
    reason_kind = TRENDING

    def __init__(self, window_s: float = 7 * 86_400.0, smoothing: float = 2.0) -> None:
        super().__init__()
        self.config = TrendingConfig(window_s, smoothing)

    def _fit(self, interactions: Interactions) -> None:
        ts, end = interactions.timestamp, float(interactions.timestamp.max())
        win = self.config.window_s
        recent = (ts > end - win) & (ts <= end)
        previous = (ts > end - 2 * win) & ~recent
        n = interactions.n_items
        w = interactions.weight
        r = np.bincount(interactions.item[recent], weights=w[recent], minlength=n)
        p = np.bincount(interactions.item[previous], weights=w[previous], minlength=n)
        self.item_scores = trending_scores(r, p, self.config.smoothing)


class TrendingCounter:
    """Incremental trending from a stream of (item, timestamp, weight): no training needed.

    Time is cut into buckets of ``window_s / buckets_per_window``; the counter keeps the last two
    windows of buckets per item in a ring, so memory is ``2 * buckets_per_window * n_items``
    floats and an update is a vectorised scatter-add. Events older than two windows are dropped.
    """

    def __init__(
        self,
        n_items: int = 0,
        window_s: float = 3_600.0,
        buckets_per_window: int = 12,
        smoothing: float = 2.0,
    ) -> None:
        self.window_s = window_s
        self.bucket_s = window_s / buckets_per_window
        self.per_window = buckets_per_window
        self.smoothing = smoothing
        self._counts = np.zeros((2 * buckets_per_window, max(n_items, 1)), dtype=np.float32)
        self._bucket_of_slot = np.full(2 * buckets_per_window, -1, dtype=np.int64)
        self.n_items = n_items

    def update(
        self,
        items: np.ndarray,
        timestamps: np.ndarray,
        weights: np.ndarray | None = None,
    ) -> None:
        """Count a batch of events (any order); negative item indices are ignored."""
        items = np.asarray(items, dtype=np.int64)
        if items.size == 0:
            return
        ts = np.asarray(timestamps, dtype=np.float64)
        w = np.ones(items.size, np.float32) if weights is None else np.asarray(weights, np.float32)
        self._grow(int(items.max()) + 1)
        bucket = np.floor(ts / self.bucket_s).astype(np.int64)
        newest = max(int(bucket.max()), int(self._bucket_of_slot.max()))
        keep = (bucket > newest - self._counts.shape[0]) & (items >= 0)
        bucket, items, w = bucket[keep], items[keep], w[keep]
        slots = bucket % self._counts.shape[0]
        for b in np.unique(bucket):  # reset slots that now hold a newer bucket
            slot = int(b % self._counts.shape[0])
            if self._bucket_of_slot[slot] < b:
                self._counts[slot] = 0.0
                self._bucket_of_slot[slot] = b
        fresh = self._bucket_of_slot[slots] == bucket  # events for a slot overwritten by newer data
        np.add.at(self._counts, (slots[fresh], items[fresh]), w[fresh])

    def _grow(self, n_items: int) -> None:
        if n_items > self._counts.shape[1]:
            extra = np.zeros((self._counts.shape[0], n_items - self._counts.shape[1]), np.float32)
            self._counts = np.concatenate([self._counts, extra], axis=1)
        self.n_items = max(self.n_items, n_items)

    def windows(self, now: float) -> tuple[np.ndarray, np.ndarray]:
        """(recent, previous) counts per item for the two windows ending at ``now``."""
        current = int(np.floor(now / self.bucket_s))
        age = current - self._bucket_of_slot
        recent_slots = (age >= 0) & (age < self.per_window) & (self._bucket_of_slot >= 0)
        prev_slots = (age >= self.per_window) & (age < 2 * self.per_window)
        counts = self._counts[:, : self.n_items]
        return counts[recent_slots].sum(axis=0), counts[prev_slots].sum(axis=0)

    def scores(self, now: float) -> np.ndarray:
        """Trending score of every item at time ``now`` (see ``trending_scores``)."""
        recent, previous = self.windows(now)
        return trending_scores(recent, previous, self.smoothing)

    def top(self, now: float, n: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``n`` fastest-rising items, best first."""
        s = self.scores(now)
        n = min(n, s.size)
        idx = np.argpartition(-s, n - 1)[:n] if 0 < n < s.size else np.arange(s.size)
        idx = idx[np.argsort(-s[idx], kind="stable")]
        return idx.astype(np.int32), s[idx]
