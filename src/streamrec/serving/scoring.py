"""Small array helpers of the request path: normalising, masking and top-k in the item space."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from streamrec.recommenders.base import top_k
from streamrec.serving.space import ItemSpace

__all__ = ["ranked", "scaled", "top_items"]


def scaled(values: np.ndarray) -> np.ndarray:
    """Non-negative values divided by their maximum (all zero stays zero)."""
    top = float(values.max(initial=0.0))
    return values / top if top > 0 else np.zeros(values.size)


def top_items(
    scores: np.ndarray, blocked: np.ndarray, n: int, space: ItemSpace, positive_only: bool = True
) -> list[tuple[str, float | None]]:
    """The ``n`` best items that are not ``blocked``, best first: with ``positive_only`` (counts
    such as popularity) only items scoring above 0, otherwise every item with a finite score
    (a model's scores may be negative)."""
    invalid = (scores <= 0) if positive_only else ~np.isfinite(scores)
    masked = np.where(blocked | invalid, -np.inf, scores)
    idx, vals = top_k(masked[None, :], n)
    keep = idx[0] >= 0
    return list(zip(space.ids(idx[0][keep]), vals[0][keep].astype(float).tolist(), strict=True))


def ranked(
    item_ids: Sequence[str], scores: np.ndarray, indices: np.ndarray, blocked: np.ndarray
) -> list[tuple[str, float | None]]:
    """``item_ids`` re-ordered by score (unknown items last, in the given order, score None);
    blocked (hidden) items are left out."""
    known: list[tuple[str, float | None]] = []
    unknown: list[tuple[str, float | None]] = []
    for item_id, idx in zip(item_ids, indices.tolist(), strict=True):
        if 0 <= idx < scores.size and blocked[idx]:
            continue
        if 0 <= idx < scores.size and np.isfinite(scores[idx]):
            known.append((item_id, float(scores[idx])))
        else:
            unknown.append((item_id, None))
    known.sort(key=lambda pair: -(pair[1] or 0.0))
    return known + unknown
