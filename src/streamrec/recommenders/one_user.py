"""One user's scores without work over the whole catalogue: the request path's form of ``score``.

A request scores one history. The batch interface (``Recommender.score``) builds a dense row over
every item; for the sparse recipes almost all of that row is the same simple function of one
per-item prior (the hybrid's popularity term, or a constant). ``UserScores`` keeps only what
differs: the exact scores of the *candidates* (the items some personal signal reaches), and for
every other item the rule ``rest_const + rest_weight * prior[item]``, visited in ``order`` (items
by descending prior, so the rule's values never increase along it). ``top_n`` then takes the
best items from the candidates and as much of the head of ``order`` as it needs, with the batch
path's tie-break (equal scores: lower index first, as ``top_k``).

Exactness: the candidates' scores are computed with the same float32 operations in the same order
as the batch path (``sparse_row_product`` repeats scipy's ``csr_matmat`` accumulation), so the
served ranking is the one ``streamrec evaluate`` measures, not an approximation of it.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.data import HistoryBatch, UserHistory
from streamrec.recommenders.sparse import history_matrix

if TYPE_CHECKING:
    from streamrec.recommenders.reasons import ModelReasons

__all__ = [
    "RowEntries",
    "UserScores",
    "best_n",
    "history_row",
    "marked",
    "member",
    "one_user_batch",
    "sparse_row_product",
    "sparse_row_sums",
    "top_n",
    "unique",
    "unique_inverse",
]

_SCRATCH = threading.local()
_FIRST_HEAD = 32  # items of the prior's head looked at first (beyond n); x4 while not enough


@dataclass(frozen=True)
class UserScores:
    """One user's score for every item of a model (see the module docstring)."""

    items: np.ndarray  # int64, unique (in no particular order): the candidates
    scores: np.ndarray  # float32: their exact scores
    order: np.ndarray  # int64: every item, the rule's values non-increasing along it
    prior: np.ndarray  # float32 per item, the rule's input
    rest_const: float = 0.0
    rest_weight: float = 0.0
    ties_in_order: bool = False  # equal rule values are in ascending index order along ``order``
    # why the model scores some items (model indices) as it does, from what this scoring already
    # computed (None: the recipe explains through ``Recommender.explain``)
    explain: Callable[[np.ndarray], ModelReasons] | None = None

    def rest(self, items: np.ndarray) -> np.ndarray:
        """The rule's score of ``items`` (exact only for items that are not candidates)."""
        out = np.full(items.size, self.rest_const, np.float32)
        if self.rest_weight:
            out += self.rest_weight * self.prior[items]
        return out

    def at(self, items: np.ndarray) -> np.ndarray:
        """Exact scores of any ``items`` (model indices, non-negative): each candidate's
        position written into a per-thread scratch array, read at ``items`` and cleared
        (no sort of the candidates: a request's ~1,600 took 20-50 us to sort and search)."""
        out = self.rest(items)
        if not (self.items.size and items.size):
            return out
        size = int(max(self.items.max(), items.max())) + 1
        slots = getattr(_SCRATCH, "slots", None)
        if slots is None or slots.size < size:
            slots = _SCRATCH.slots = np.full(max(size, 1024), -1, np.int64)
        slots[self.items] = np.arange(self.items.size)
        found = slots[items]
        slots[self.items] = -1
        hit = found >= 0
        out[hit] = self.scores[found[hit]]
        return out


def one_user_batch(history: UserHistory, n_items: int, max_history: int | None) -> HistoryBatch:
    """``as_batch([history]).known(n_items).last_events(max_history)``, without the batch
    machinery (a request's share of it was ~40 us)."""
    items, weights, stamps, types = (history.items, history.weights, history.timestamps,
                                     history.types())  # fmt: skip
    known = (items >= 0) & (items < n_items)
    if not known.all():
        items, weights, stamps, types = items[known], weights[known], stamps[known], types[known]
    if max_history is not None and items.size > max_history:
        cut = items.size - max_history
        items, weights, stamps, types = items[cut:], weights[cut:], stamps[cut:], types[cut:]
    indptr = np.array([0, items.size], np.int64)
    return HistoryBatch(indptr, items.astype(np.int32), weights.astype(np.float32),
                        stamps.astype(np.float64), types.astype(np.int8))  # fmt: skip


def history_row(
    batch: HistoryBatch, n_items: int, half_life: float | None, binary: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """``history_matrix`` of a one-user batch as (ascending items, values). Repeated events of
    an item are summed as scipy sums them; only three or more of one item make the order of
    that float32 sum matter, and then scipy itself does it."""
    values = np.ones(batch.items.size, np.float32) if binary else batch.weights.copy()
    if half_life is not None and batch.items.size:
        rank = np.arange(batch.items.size - 1, -1, -1)
        values = values * np.exp2(-rank / half_life).astype(np.float32)
    items, inverse = unique_inverse(batch.items)
    if items.size and int(np.bincount(inverse).max()) > 2:
        hist = history_matrix(batch, n_items, half_life, binary)
        return hist.indices.astype(np.int64), hist.data
    sums = np.zeros(items.size, np.float32)
    np.add.at(sums, inverse, values)
    return items, np.minimum(sums, 1.0) if binary else sums


@dataclass(frozen=True)
class RowEntries:
    """The matrix entries a one-row product summed, in order: each entry's column and weighted
    value, and how many entries each history row gave (what a request's reasons split by)."""

    cols: np.ndarray  # int32/int64
    products: np.ndarray  # float32
    lengths: np.ndarray  # int64 per history row


def sparse_row_product(
    items: np.ndarray, values: np.ndarray, matrix: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray]:
    """``values @ matrix[items]`` as (ascending columns, float32 sums; zero sums kept), summed
    exactly as scipy multiplies a
    one-row CSR history (``items`` ascending, no repeats) by ``matrix``: entry by entry of the
    history, each matrix row in stored order, accumulated sequentially in float32 from 0."""
    cols, sums, _ = sparse_row_sums(items, values, matrix)
    return cols, sums


def sparse_row_sums(
    items: np.ndarray, values: np.ndarray, matrix: sp.csr_matrix
) -> tuple[np.ndarray, np.ndarray, RowEntries]:
    """``sparse_row_product`` and the entries it summed."""
    starts, stops = matrix.indptr[items], matrix.indptr[items + 1]
    lengths = (stops - starts).astype(np.int64)
    total = int(lengths.sum())
    if total == 0:
        empty = RowEntries(np.zeros(0, np.int64), np.zeros(0, np.float32), lengths)
        return np.zeros(0, np.int64), np.zeros(0, np.float32), empty
    shift = starts - (np.cumsum(lengths) - lengths)  # entry k of row j: starts[j] + k
    where = np.arange(total) + np.repeat(shift, lengths)
    products = np.repeat(values.astype(np.float32), lengths) * matrix.data[where]
    entry_cols = matrix.indices[where]
    cols, sums = _column_sums(entry_cols, products, matrix.shape[1])
    return cols, sums, RowEntries(entry_cols, products, lengths)


def _column_sums(
    entry_cols: np.ndarray, products: np.ndarray, width: int
) -> tuple[np.ndarray, np.ndarray]:
    """(ascending distinct columns, float32 sum of each one's products in entry order), through
    per-thread scratch arrays of the matrix's width instead of sorting the entries: a column's
    products are added to a zeroed float32 cell one by one, in order (``np.add.at`` is
    unbuffered), as scipy accumulates them, and the cells are zeroed again after; only the
    distinct columns, found as each one's last entry, are sorted. At 100,000 items (the training
    users' histories of ``benchmarks.hybrid_scale``) ``recommend_user`` went from 0.755 to 0.657
    ms CPU a call (medians of 6 alternating passes over 500 users, load 5), rankings identical."""
    acc = getattr(_SCRATCH, "sums", None)
    last = getattr(_SCRATCH, "last", None)
    if acc is None or last is None or acc.size < width:
        acc = _SCRATCH.sums = np.zeros(max(width, 1024), np.float32)
        last = _SCRATCH.last = np.zeros(max(width, 1024), np.int64)
    positions = np.arange(entry_cols.size)
    last[entry_cols] = positions  # the last write of a column wins
    cols = np.sort(entry_cols[last[entry_cols] == positions]).astype(np.int64)
    np.add.at(acc, entry_cols, products)
    sums = acc[cols].astype(np.float32)
    acc[cols] = 0.0
    return cols, sums


def unique_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)`` for non-negative ints, as int64: one sort of
    value-and-position keys, which costs what sorting the values does (np.unique, argsort or a
    scratch array were 50-70 us on 3,000 entries, a stable argsort 200 us; this is ~20 us)."""
    bits = max(int(values.size).bit_length(), 1)
    keys = (values.astype(np.int64) << bits) | np.arange(values.size)
    keys.sort()
    ordered = keys >> bits
    first = np.empty(ordered.size, bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    inverse = np.empty(ordered.size, np.int64)
    inverse[keys & ((1 << bits) - 1)] = np.cumsum(first) - 1
    return ordered[first], inverse


def unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct int64 values (see ``unique_inverse``)."""
    ordered = np.sort(values).astype(np.int64)
    keep = np.empty(ordered.size, bool)
    keep[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def best_n(idx: np.ndarray, scores: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` highest finite scores, best first, equal scores by ascending index."""
    finite = np.isfinite(scores)
    if not finite.all():
        idx, scores = idx[finite], scores[finite]
    if scores.size > n > 0:
        kth = np.partition(scores, scores.size - n)[scores.size - n]
        keep = scores >= kth
        idx, scores = idx[keep], scores[keep]
    order = np.lexsort((idx, -scores))[: max(n, 0)]
    return idx[order], scores[order]


def top_n(
    known: tuple[np.ndarray, np.ndarray],
    order: np.ndarray,
    rest: Callable[[np.ndarray], np.ndarray],
    n: int,
    blocked: Callable[[np.ndarray], np.ndarray],
    ties_in_order: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Best ``n`` of: the ``known`` (indices, exact scores) and every other index of ``order``,
    which scores ``rest(positions in order)`` and never more along it; ``blocked(indices)`` marks
    items to leave out. Reads the head of ``order`` until no later item could enter the top n."""
    known_idx, known_scores = known
    if n <= 0:
        return known_idx[:0], known_scores[:0]
    ok = ~blocked(known_idx)
    head = min(order.size, n + _FIRST_HEAD)
    while True:
        pos = np.arange(head)
        fresh = ~marked(order[:head], known_idx)
        pos = pos[fresh]
        pos = pos[~blocked(order[pos])]
        idx = np.concatenate([known_idx[ok], order[pos]])
        scores = np.concatenate([known_scores[ok], rest(pos).astype(known_scores.dtype)])
        top_idx, top_scores = best_n(idx, scores, n)
        if head >= order.size or _closed(top_idx, top_scores, n, order, rest, head, ties_in_order):
            return top_idx, top_scores
        head = min(order.size, head * 4)


def _closed(
    top_idx: np.ndarray,
    top_scores: np.ndarray,
    n: int,
    order: np.ndarray,
    rest: Callable[[np.ndarray], np.ndarray],
    head: int,
    ties_in_order: bool,
) -> bool:
    """Whether no item past ``head`` in ``order`` can beat the current n-th best."""
    if top_idx.size < n:
        return False
    bound = float(rest(np.array([head - 1]))[0])
    last = float(top_scores[-1])
    if last > bound:
        return True
    return ties_in_order and last == bound and int(top_idx[-1]) <= int(order[head - 1])


def marked(values: np.ndarray, marks: np.ndarray) -> np.ndarray:
    """``np.isin(values, marks)`` for non-negative indices, through a per-thread bool scratch
    (set, read, cleared: no sort of ``marks``; 2,000 values against 600 marks took 16 us by
    binary search, ``member``, and 5 us here)."""
    size = int(max(values.max(initial=-1), marks.max(initial=-1))) + 1
    flags = getattr(_SCRATCH, "flags", None)
    if flags is None or flags.size < size:
        flags = _SCRATCH.flags = np.zeros(max(size, 1024), bool)
    flags[marks] = True
    out = flags[values]
    flags[marks] = False
    return np.asarray(out)


def member(values: np.ndarray, sorted_set: np.ndarray) -> np.ndarray:
    """``np.isin(values, sorted_set)`` for a sorted ``sorted_set``, by binary search."""
    if sorted_set.size == 0:
        return np.zeros(values.size, bool)
    pos = np.searchsorted(sorted_set, values).clip(max=sorted_set.size - 1)
    return np.asarray(sorted_set[pos] == values)
