"""Why a model scored an item: which of the user's items contributed most, in model indices.

A request explains only the ``n`` items it returns, so every helper here works on a few target
columns: the rows of the user's history items restricted to those columns (sparse gathers or a
small dense block), never a row over the whole catalogue. The serving layer turns the winning
history item back into the user's own event (``streamrec.serving.reasons``).
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from streamrec.recommenders.one_user import RowEntries

__all__ = [
    "EVENT",
    "POPULAR",
    "REPEAT",
    "TRENDING",
    "ModelReasons",
    "dense_block",
    "entries_block",
    "leave_one_in",
    "strongest",
]

_SCRATCH = threading.local()

# what made a model score an item: a prior (popularity, trending), one history item (EVENT), or
# the item being one of the user's own (REPEAT)
POPULAR, EVENT, REPEAT, TRENDING = 0, 1, 2, 3


@dataclass(frozen=True)
class ModelReasons:
    """Per explained item: its kind, the history item (model index) behind an EVENT or REPEAT
    (-1 otherwise), and the winning term on the model's score scale. Plain lists: a request
    explains about ten items, where per-item Python is cheaper than more array calls."""

    kinds: list[int]
    sources: list[int]
    strengths: list[float]

    @classmethod
    def all(cls, kind: int, size: int) -> ModelReasons:
        return cls([kind] * size, [-1] * size, [0.0] * size)

    @classmethod
    def decide(
        cls,
        targets: list[int],
        events: tuple[list[int], list[float]],
        prior: list[float],
        repeat: Mapping[int, float],
    ) -> ModelReasons:
        """The largest of three terms per target: the best single history item's contribution
        (``events``: source, value), the prior and the repeat term (``repeat``: per own item);
        ties go to the event, then to the repeat. A non-positive contribution never wins."""
        out = cls([], [], [])
        for target, source, value, base in zip(targets, *events, prior, strict=True):
            own = repeat.get(target, 0.0)
            if source >= 0 and value > 0 and value >= base and value >= own:
                out.add(EVENT, source, value)
            elif own > 0 and own >= base:
                out.add(REPEAT, target, own)
            else:
                out.add(POPULAR, -1, base)
        return out

    def add(self, kind: int, source: int, strength: float) -> None:
        self.kinds.append(kind)
        self.sources.append(source)
        self.strengths.append(strength)


def entries_block(entries: RowEntries, targets: np.ndarray, n_cols: int) -> np.ndarray:
    """[history rows, targets] float64: each history row's summed entries on each target (the
    entries a sparse one-row product already gathered; ``targets`` distinct, non-negative)."""
    out = np.zeros((entries.lengths.size, targets.size))
    if entries.cols.size == 0 or targets.size == 0:
        return out
    column = _target_positions(entries.cols, targets, n_cols)
    hit = np.flatnonzero(column >= 0)
    row_of = np.repeat(np.arange(entries.lengths.size), entries.lengths)[hit]
    out[row_of, column[hit]] = entries.products[hit]
    return out


def _target_positions(cols: np.ndarray, targets: np.ndarray, n_cols: int) -> np.ndarray:
    """Position of each of ``cols`` in ``targets`` (-1: not a target), through a per-thread
    scratch array (set, read, reset) rather than a sort."""
    lookup = getattr(_SCRATCH, "lookup", None)
    if lookup is None or lookup.size < n_cols:
        lookup = _SCRATCH.lookup = np.full(max(n_cols, 1024), -1, np.int64)
    lookup[targets] = np.arange(targets.size)
    out = lookup[cols]
    lookup[targets] = -1
    return np.asarray(out)


def dense_block(
    rows: np.ndarray, weights: np.ndarray, matrix: np.ndarray, targets: np.ndarray
) -> np.ndarray:
    """``weights[:, None] * matrix[rows][:, targets]``; a row or target index of -1 (outside
    the matrix) contributes 0."""
    flat = (np.maximum(rows, 0) * matrix.shape[1])[:, None] + np.maximum(targets, 0)
    block = matrix.reshape(-1)[flat] * np.where(rows >= 0, weights, 0.0)[:, None]
    return np.where(targets >= 0, block, 0.0)


def strongest(block: np.ndarray, sources: np.ndarray) -> tuple[list[int], list[float]]:
    """Per target column: the source with the largest contribution and that contribution
    (source -1 where there are no sources)."""
    if block.shape[0] == 0:
        return [-1] * block.shape[1], [0.0] * block.shape[1]
    best = np.argmax(block, axis=0)
    return sources[best].tolist(), block.max(axis=0).tolist()


def leave_one_in(
    single_scores: np.ndarray, sources: np.ndarray, targets: np.ndarray
) -> ModelReasons:
    """Any recipe's reasons: ``single_scores`` [sources, items] are the model's scores of each
    history item alone. A target is explained by the source that alone scores it highest, when
    the sources disagree at all (otherwise the history does not move it: a prior); a target
    that is itself a source is a repeat."""
    block = single_scores[:, targets].astype(np.float64)
    best, value = strongest(block, sources)
    moved = (block.max(axis=0) > block.min(axis=0)).tolist()
    own = set(sources.tolist())
    out = ModelReasons([], [], [])
    for target, source, strength, varies in zip(targets.tolist(), best, value, moved, strict=True):
        if target in own:
            out.add(REPEAT, target, 0.0)
        elif varies:
            out.add(EVENT, source, strength)
        else:
            out.add(POPULAR, -1, 0.0)
    return out
