"""95% bootstrap confidence intervals over test users for HR@k, NDCG@k and MRR@k (EVALUATION.md:
"Report every figure with a 95% confidence interval (bootstrap over test users)").

Each test user contributes one gain per metric (hit 0/1, 1/log2(rank+1), 1/rank); a resample
draws as many users as there are, with replacement, and takes the mean. The interval is the
percentile interval of those means. Seeded, so a figure and its interval are reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.training.metrics import target_ranks

__all__ = ["Interval", "bootstrap_intervals", "paired_intervals", "per_user_gains"]

RESAMPLES = 1000
CONFIDENCE = 0.95
_CHUNK_CELLS = 1_000_000  # resamples drawn at once x users: bounds the index matrix's memory


@dataclass(frozen=True)
class Interval:
    """A metric's value on every test user and its bootstrap interval."""

    value: float
    low: float
    high: float

    def format(self, digits: int = 4) -> str:
        return f"{self.value:.{digits}f} [{self.low:.{digits}f}, {self.high:.{digits}f}]"


def per_user_gains(recommended: np.ndarray, targets: np.ndarray) -> dict[str, np.ndarray]:
    """Each test user's hit, NDCG gain and reciprocal rank, keyed like ranking_metrics."""
    k = recommended.shape[1] if recommended.ndim == 2 else 0
    ranks = target_ranks(recommended, targets)
    hit = ranks > 0
    safe = np.maximum(ranks, 1).astype(np.float64)
    return {
        f"hr@{k}": hit.astype(np.float64),
        f"ndcg@{k}": np.where(hit, 1.0 / np.log2(safe + 1.0), 0.0),
        f"mrr@{k}": np.where(hit, 1.0 / safe, 0.0),
    }


def bootstrap_intervals(
    recommended: np.ndarray,
    targets: np.ndarray,
    seed: int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """HR@k, NDCG@k and MRR@k with percentile bootstrap intervals over the test users."""
    gains = per_user_gains(recommended, targets)
    return _intervals(gains, seed, resamples, confidence)


def paired_intervals(
    recommended: np.ndarray,
    baseline: np.ndarray,
    targets: np.ndarray,
    seed: int = 0,
    resamples: int = RESAMPLES,
    confidence: float = CONFIDENCE,
) -> dict[str, Interval]:
    """The difference ``recommended`` minus ``baseline`` in HR@k, NDCG@k and MRR@k over the same
    test users, with a paired bootstrap interval (each resample draws users, and both lists'
    gains of those users): narrower than comparing two separate intervals, since what varies
    between users (easy and hard targets) is in both."""
    ours, theirs = per_user_gains(recommended, targets), per_user_gains(baseline, targets)
    if ours.keys() != theirs.keys():
        raise ValueError(f"paired lists differ in length: {list(ours)} vs {list(theirs)}")
    return _intervals({n: ours[n] - theirs[n] for n in ours}, seed, resamples, confidence)


def _intervals(
    gains: dict[str, np.ndarray], seed: int, resamples: int, confidence: float
) -> dict[str, Interval]:
    names = list(gains)
    matrix = np.stack([gains[n] for n in names], axis=1)  # users x metrics
    means = resampled_means(matrix, seed, resamples)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(means, [tail, 1.0 - tail], axis=0) if means.size else (None, None)
    out = {}
    for col, name in enumerate(names):
        value = float(matrix[:, col].mean()) if matrix.shape[0] else 0.0
        if low is None or high is None:
            out[name] = Interval(value, value, value)
        else:
            out[name] = Interval(value, float(low[col]), float(high[col]))
    return out


def resampled_means(matrix: np.ndarray, seed: int, resamples: int) -> np.ndarray:
    """[resamples, metrics]: the column means of ``resamples`` bootstrap draws of the rows."""
    n = matrix.shape[0]
    if n == 0:
        return np.zeros((0, matrix.shape[1]))
    rng = np.random.default_rng(seed)
    chunk = max(1, _CHUNK_CELLS // n)
    parts = []
    for start in range(0, resamples, chunk):
        draws = rng.integers(0, n, size=(min(chunk, resamples - start), n))
        parts.append(matrix[draws].mean(axis=1))
    return np.concatenate(parts)
