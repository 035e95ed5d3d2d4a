"""Top-k ranking metrics with one held-out target per user (EVALUATION.md, step 4)."""

from __future__ import annotations

import numpy as np

__all__ = ["catalogue_coverage", "hit_rate", "mrr", "ndcg", "ranking_metrics", "target_ranks"]


def target_ranks(recommended: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """1-based rank of each target in its row of ``recommended``; 0 when it is not there.

    A target of -1 (unknown to training) never matches: padding in ``recommended`` is -1 too,
    so such targets are excluded explicitly."""
    recs = np.asarray(recommended)
    tgt = np.asarray(targets).reshape(-1, 1)
    match = (recs == tgt) & (tgt >= 0)
    found = match.any(axis=1)
    return np.where(found, match.argmax(axis=1) + 1, 0)


def hit_rate(recommended: np.ndarray, targets: np.ndarray) -> float:
    """Share of users whose target is among their recommendations."""
    ranks = target_ranks(recommended, targets)
    return float((ranks > 0).mean()) if ranks.size else 0.0


def ndcg(recommended: np.ndarray, targets: np.ndarray) -> float:
    """Mean of 1 / log2(rank + 1) for hits, 0 for misses (one relevant item: IDCG is 1)."""
    ranks = target_ranks(recommended, targets)
    gains = np.where(ranks > 0, 1.0 / np.log2(np.maximum(ranks, 1) + 1.0), 0.0)
    return float(gains.mean()) if ranks.size else 0.0


def mrr(recommended: np.ndarray, targets: np.ndarray) -> float:
    """Mean reciprocal rank within the list (MRR@k): 1 / rank for hits, 0 for misses."""
    ranks = target_ranks(recommended, targets)
    return float(np.where(ranks > 0, 1.0 / np.maximum(ranks, 1), 0.0).mean()) if ranks.size else 0.0


def catalogue_coverage(recommended: np.ndarray, n_items: int) -> float:
    """Share of the catalogue that appears in at least one user's list."""
    shown = np.unique(np.asarray(recommended))
    return float((shown >= 0).sum() / n_items) if n_items else 0.0


def ranking_metrics(recommended: np.ndarray, targets: np.ndarray, n_items: int) -> dict[str, float]:
    k = recommended.shape[1] if recommended.ndim == 2 else 0
    return {
        f"hr@{k}": hit_rate(recommended, targets),
        f"ndcg@{k}": ndcg(recommended, targets),
        f"mrr@{k}": mrr(recommended, targets),
        "coverage": catalogue_coverage(recommended, n_items),
    }
