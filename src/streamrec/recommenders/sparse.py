"""Sparse item-item matrices: co-occurrence in blocks, top-k pruning, sequential transitions.

Everything here stays sparse so that 100,000-item catalogues never need a dense
items x items matrix; scoring is then a sparse history vector times a pruned matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders.data import HistoryBatch, Interactions

__all__ = [
    "STREAM_NEIGHBOURS",
    "STREAM_PAIR_GAP_S",
    "consecutive_cooccurrence",
    "cosine_neighbours",
    "history_matrix",
    "prune_top_k",
    "row_normalise",
    "transition_matrix",
]

_BLOCK_NNZ = 20_000_000  # co-occurrence entries computed at once (bounds peak memory)
# the stream's real-time co-occurrence (serving/stream_state.py): consecutive events further
# apart than this are no pair, and each item keeps this many neighbours
STREAM_PAIR_GAP_S = 3_600.0
STREAM_NEIGHBOURS = 32


def prune_top_k(mat: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of each row (vectorised: one lexsort over all entries)."""
    mat = sp.csr_matrix(mat)
    mat.eliminate_zeros()
    rows = np.repeat(np.arange(mat.shape[0]), np.diff(mat.indptr))
    order = np.lexsort((-mat.data, rows))
    rank = np.arange(order.size) - mat.indptr[rows[order]]
    keep = order[rank < k]
    pruned = sp.csr_matrix(
        (mat.data[keep], (rows[keep], mat.indices[keep])), shape=mat.shape, dtype=np.float32
    )
    pruned.sort_indices()
    return pruned


def cosine_neighbours(user_items: sp.csr_matrix, k: int, shrink: float = 0.0) -> sp.csr_matrix:
    """items x items cosine similarity of the columns of ``user_items``, top ``k`` per row.

    Computed for blocks of items so the full co-occurrence matrix never exists at once."""
    x = sp.csc_matrix(user_items, dtype=np.float32)
    xt = sp.csr_matrix(x.T)
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=0)).ravel()).astype(np.float32)
    n_items = x.shape[1]
    user_degree = np.asarray((x != 0).sum(axis=1)).ravel()
    per_item = max(1.0, float((user_degree.astype(np.float64) ** 2).sum()) / max(1, n_items))
    block = int(max(64, min(n_items, _BLOCK_NNZ / per_item)))
    parts = []
    for start in range(0, n_items, block):
        stop = min(start + block, n_items)
        co = sp.csr_matrix(xt[start:stop] @ x)
        co = sp.csr_matrix(co.tocoo())
        _cosine_in_place(co, norms, start, shrink)
        parts.append(prune_top_k(co, k))
    return (
        sp.csr_matrix(sp.vstack(parts), dtype=np.float32)
        if parts
        else sp.csr_matrix((n_items, n_items), dtype=np.float32)
    )


def _cosine_in_place(co: sp.csr_matrix, norms: np.ndarray, offset: int, shrink: float) -> None:
    rows = np.repeat(np.arange(co.shape[0]), np.diff(co.indptr)) + offset
    denom = norms[rows] * norms[co.indices] + shrink + 1e-9
    co.data = (co.data / denom).astype(np.float32)
    co.data[rows == co.indices] = 0.0  # an item is not its own neighbour
    co.eliminate_zeros()


def transition_matrix(
    interactions: Interactions, window: int = 3, decay: float = 0.5, k: int = 200
) -> sp.csr_matrix:
    """P(next item | item): item b counted after item a when b follows a within ``window``
    steps of the same user's time-ordered events, a step further counting ``decay`` times less.
    Rows are normalised to sum to 1 and pruned to the top ``k`` successors."""
    order = np.lexsort((np.arange(len(interactions)), interactions.user))
    user, item = interactions.user[order], interactions.item[order]
    src_parts, dst_parts, w_parts = [], [], []
    for d in range(1, window + 1):
        same = user[d:] == user[:-d] if user.size > d else np.zeros(0, bool)
        src_parts.append(item[:-d][same])
        dst_parts.append(item[d:][same])
        w_parts.append(np.full(int(same.sum()), decay ** (d - 1), np.float32))
    n = interactions.n_items
    src = np.concatenate(src_parts) if src_parts else np.zeros(0, np.int32)
    mat = sp.csr_matrix(
        (np.concatenate(w_parts) if w_parts else np.zeros(0, np.float32),
         (src, np.concatenate(dst_parts) if dst_parts else np.zeros(0, np.int32))),
        shape=(n, n), dtype=np.float32,
    )  # fmt: skip
    mat.sum_duplicates()
    mat.setdiag(0.0)
    return row_normalise(prune_top_k(mat, k))


def consecutive_cooccurrence(interactions: Interactions, gap_s: float, k: int) -> sp.csr_matrix:
    """What the stream's real-time co-occurrence (serving/stream_state.py) holds after seeing
    these events: each user's consecutive events on two different items, at most ``gap_s``
    apart, count both ways with the later event's weight; rows keep their ``k`` largest
    entries and are normalised to sum to 1."""
    order = np.lexsort((np.arange(len(interactions)), interactions.user))
    user, item = interactions.user[order], interactions.item[order]
    ts, weight = interactions.timestamp[order], interactions.weight[order]
    pair = (user[1:] == user[:-1]) & (item[1:] != item[:-1]) & (np.abs(np.diff(ts)) <= gap_s)
    src, dst, w = item[:-1][pair], item[1:][pair], weight[1:][pair]
    n = interactions.n_items
    mat = sp.csr_matrix(
        (np.concatenate([w, w]), (np.concatenate([src, dst]), np.concatenate([dst, src]))),
        shape=(n, n), dtype=np.float32,
    )  # fmt: skip
    mat.sum_duplicates()
    return row_normalise(prune_top_k(mat, k))


def row_normalise(mat: sp.csr_matrix) -> sp.csr_matrix:
    """Each row divided by its sum (empty rows stay empty)."""
    sums = np.asarray(mat.sum(axis=1)).ravel()
    inv = np.divide(1.0, sums, out=np.zeros_like(sums), where=sums > 0)
    return sp.csr_matrix(sp.diags(inv.astype(np.float32)) @ mat, dtype=np.float32)


def history_matrix(
    batch: HistoryBatch, n_items: int, half_life_events: float | None = None, binary: bool = False
) -> sp.csr_matrix:
    """Histories as a users x items matrix of event weights, the most recent events counting
    most: the i-th most recent event is discounted by 2^(-i / half_life_events)."""
    values = np.ones(batch.items.size, np.float32) if binary else batch.weights.copy()
    if half_life_events is not None and batch.items.size:
        values = values * np.exp2(-batch.recency_rank() / half_life_events).astype(np.float32)
    mat = batch.to_csr(n_items, values)
    if binary:
        mat.data = np.minimum(mat.data, 1.0)
    return mat
