"""Repeat consumption: how likely a user's next event is on an item they already interacted with.

People re-open what they viewed and added to the cart; they rarely re-buy a film they rated. The
chance that the next event is a given item of the user's own history is estimated from the
training sequences themselves, per cell of three features of that item (RepeatNet's "repeat
mode" and TIFU-KNN's personal frequency, reduced to a calibrated lookup table):

- its *distinct recency rank*: 0 for the user's most recent distinct item, 1 for the one before;
- the event type of the user's newest event on it (view, add_to_cart, ...);
- how many events the user had on it (1, 2, 3 or more).

Each cell's rate is hits / exposures over the last few positions of each training sequence,
shrunk towards its rank's rate when the cell has few exposures. Items with an event of a type
serving excludes (``excluded`` codes: purchases, ratings by default) are never repeat candidates.
How much the repeat scores weigh against the rest of the blend is tuned on validation by the
recipe that uses them (see hybrid.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from streamrec.recommenders.data import EVENT_TYPES, HistoryBatch

__all__ = ["MAX_RANK", "RepeatRates", "repeat_candidates", "user_repeat_candidates"]

MAX_RANK = 20  # only the user's 20 most recent distinct items are repeat candidates
_RANK_STARTS = np.array([0, 1, 2, 3, 4, 5, 7, 10, 15], dtype=np.int64)
_COUNTS = 3  # 1, 2, 3+
_SMOOTHING = 10.0  # pseudo-exposures pulling a sparse cell towards its rank's rate
_FIT_USERS = 10_000  # sequences sampled to estimate the table
_FIT_POSITIONS = 10  # the last positions of each sequence used as targets
_PREFIX_EVENTS = 50  # events of each prefix looked at (ranks beyond 20 need no more)


@dataclass(frozen=True)
class Candidates:
    """The repeat candidates of a batch: one entry per (row, item) with its features."""

    rows: np.ndarray  # int64
    items: np.ndarray  # int64
    rank_bucket: np.ndarray  # int64
    type_code: np.ndarray  # int64
    count_bucket: np.ndarray  # int64


def repeat_candidates(batch: HistoryBatch, excluded: frozenset[int]) -> Candidates:
    """Every (row, item) among a row's MAX_RANK most recent distinct items, with features;
    items with any event of an ``excluded`` type are left out."""
    n = batch.items.size
    if n == 0:
        empty = np.zeros(0, np.int64)
        return Candidates(empty, empty, empty, empty, empty)
    rows = batch.rows().astype(np.int64)
    items = batch.items.astype(np.int64)
    key = rows * (int(items.max()) + 1) + items
    rev = np.arange(n - 1, -1, -1)
    uniq, first_rev, counts = np.unique(key[rev], return_index=True, return_counts=True)
    last = rev[first_rev]  # position of each distinct (row, item)'s newest event
    types = batch.types().astype(np.int64)
    keep = np.ones(uniq.size, bool)
    if excluded:
        banned = np.unique(key[np.isin(types, list(excluded))])
        keep &= ~np.isin(uniq, banned)
    rank = _distinct_rank(rows[last], last)
    keep &= rank < MAX_RANK
    last, counts, rank = last[keep], counts[keep], rank[keep]
    return Candidates(
        rows[last],
        items[last],
        np.searchsorted(_RANK_STARTS, rank, side="right") - 1,
        types[last],
        np.minimum(counts, _COUNTS) - 1,
    )


def user_repeat_candidates(
    items: np.ndarray, types: np.ndarray, excluded: frozenset[int]
) -> Candidates:
    """``repeat_candidates`` of a one-user batch (its events oldest first): one pass over the
    events, newest first, in plain Python; a request's history is tens of events, where the
    batch version's sorts and hashing cost ~0.1-0.2 ms."""
    rank: dict[int, int] = {}  # distinct item -> its rank (0: the newest)
    count: dict[int, int] = {}
    newest_type: dict[int, int] = {}
    banned: set[int] = set()
    for item, kind in zip(reversed(items.tolist()), reversed(types.tolist()), strict=True):
        if item not in rank:
            rank[item] = len(rank)
            newest_type[item] = kind
            count[item] = 0
        count[item] += 1
        if kind in excluded:
            banned.add(item)
    keep = [i for i, r in rank.items() if r < MAX_RANK and i not in banned]
    ranks = np.array([rank[i] for i in keep], np.int64)
    return Candidates(
        np.zeros(len(keep), np.int64),
        np.array(keep, np.int64),
        np.searchsorted(_RANK_STARTS, ranks, side="right") - 1,
        np.array([newest_type[i] for i in keep], np.int64),
        np.minimum(np.array([count[i] for i in keep], np.int64), _COUNTS) - 1,
    )


def _distinct_rank(rows: np.ndarray, position: np.ndarray) -> np.ndarray:
    """0 for the newest of each row's distinct items, 1 for the next, ... (by position)."""
    order = np.lexsort((-position, rows))
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.empty(order.size, np.int64)
    rank[order] = np.arange(order.size) - starts
    return rank


class RepeatRates:
    """P(next item = this item of the history | its cell), as a [rank, type, count] table."""

    def __init__(self, table: np.ndarray | None = None) -> None:
        shape = (_RANK_STARTS.size, len(EVENT_TYPES), _COUNTS)
        self.table = np.zeros(shape, np.float32) if table is None else table.astype(np.float32)

    @classmethod
    def fit(cls, histories: HistoryBatch, excluded: frozenset[int], seed: int = 0) -> RepeatRates:
        """Estimate the table from the last positions of (a sample of) the sequences."""
        prefixes, targets = _prefixes(histories, np.random.default_rng(seed))
        cand = repeat_candidates(prefixes, excluded)
        cells = _cell(cand)
        size = int(np.prod(cls().table.shape))
        exposures = np.bincount(cells, minlength=size).astype(np.float64)
        hit = cand.items == targets[cand.rows]
        hits = np.bincount(cells[hit], minlength=size).astype(np.float64)
        shape = cls().table.shape
        exposures, hits = exposures.reshape(shape), hits.reshape(shape)
        by_rank = (hits.sum(axis=(1, 2)) + 1.0) / (exposures.sum(axis=(1, 2)) + 2.0)
        prior = by_rank[:, None, None]
        return cls((hits + _SMOOTHING * prior) / (exposures + _SMOOTHING))

    def rates_of(self, cand: Candidates) -> np.ndarray:
        return np.asarray(self.table.reshape(-1)[_cell(cand)], dtype=np.float32)

    def add_to(self, scores: np.ndarray, batch: HistoryBatch, excluded: frozenset[int],
               weight: float) -> None:  # fmt: skip
        """scores[row, item] += weight * rate, for every repeat candidate of the batch."""
        cand = repeat_candidates(batch, excluded)
        if not cand.rows.size or not weight:
            return
        ok = cand.items < scores.shape[1]
        np.add.at(scores, (cand.rows[ok], cand.items[ok]), weight * self.rates_of(cand)[ok])


def _cell(cand: Candidates) -> np.ndarray:
    n_types, n_counts = len(EVENT_TYPES), _COUNTS
    cells = (cand.rank_bucket * n_types + cand.type_code) * n_counts + cand.count_bucket
    return np.asarray(cells, dtype=np.int64)


def _prefixes(histories: HistoryBatch, rng: np.random.Generator) -> tuple[HistoryBatch, np.ndarray]:
    """For sampled rows and each of their last positions t >= 2: a row holding the (up to
    _PREFIX_EVENTS) events before t, and the item at t as its target."""
    lengths = np.diff(histories.indptr)
    users = np.flatnonzero(lengths >= 3)
    if users.size > _FIT_USERS:
        users = np.sort(rng.choice(users, _FIT_USERS, replace=False))
    starts, ends = histories.indptr[users], histories.indptr[users + 1]
    pos_lists = [
        np.arange(max(s + 2, e - _FIT_POSITIONS), e) for s, e in zip(starts, ends, strict=True)
    ]
    owner = np.concatenate([np.full(p.size, s) for p, s in zip(pos_lists, starts, strict=True)])
    target_pos = np.concatenate(pos_lists) if pos_lists else np.zeros(0, np.int64)
    lo = np.maximum(owner, target_pos - _PREFIX_EVENTS)
    span = (target_pos - lo).astype(np.int64)
    idx = np.repeat(target_pos - span, span) + _ragged_arange(span)
    indptr = np.concatenate([[0], np.cumsum(span)]).astype(np.int64)
    batch = HistoryBatch(
        indptr,
        histories.items[idx],
        histories.weights[idx],
        histories.timestamps[idx],
        histories.types()[idx],
    )
    return batch, histories.items[target_pos].astype(np.int64)


def _ragged_arange(lengths: np.ndarray) -> np.ndarray:
    """0..l-1 for each length, concatenated."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.asarray(np.arange(total, dtype=np.int64) - offsets, dtype=np.int64)
