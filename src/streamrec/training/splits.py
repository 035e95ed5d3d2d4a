"""The temporal leave-last-out split of /shared/EVALUATION.md, on int-coded arrays."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["LeaveLastOutSplit", "first_occurrences", "leave_last_out_split"]

MIN_DISTINCT_ITEMS = 3


@dataclass(frozen=True)
class LeaveLastOutSplit:
    train_mask: np.ndarray  # bool [n]: first occurrences that are not test targets
    test_users: np.ndarray  # int64 [n_test], ascending
    test_items: np.ndarray  # int64 [n_test], the target of each test user


def first_occurrences(user: np.ndarray, item: np.ndarray, timestamp: np.ndarray) -> np.ndarray:
    """Row indices of the first occurrence of each (user, item) pair, in time order
    (ties in timestamp keep the input order)."""
    order = np.argsort(np.asarray(timestamp), kind="stable")
    u = np.asarray(user, dtype=np.int64)[order]
    i = np.asarray(item, dtype=np.int64)[order]
    key = u * (int(i.max()) + 1 if i.size else 1) + i
    _, first = np.unique(key, return_index=True)
    return np.asarray(order[np.sort(first)], dtype=np.int64)


def leave_last_out_split(
    user: np.ndarray, item: np.ndarray, timestamp: np.ndarray
) -> LeaveLastOutSplit:
    """Each user with at least 3 distinct items gives one test case, their last new item;
    everything else (first occurrences only) is training."""
    rows = first_occurrences(user, item, timestamp)
    u = np.asarray(user, dtype=np.int64)[rows]
    n_users = int(u.max()) + 1 if u.size else 0
    counts = np.bincount(u, minlength=n_users)
    last_pos = np.full(n_users, -1, dtype=np.int64)
    last_pos[u] = np.arange(u.size)  # later positions overwrite earlier: the last one stays
    test_users = np.flatnonzero(counts >= MIN_DISTINCT_ITEMS)
    target_rows = rows[last_pos[test_users]]
    mask = np.zeros(len(user), dtype=bool)
    mask[rows] = True
    mask[target_rows] = False
    return LeaveLastOutSplit(mask, test_users, np.asarray(item, dtype=np.int64)[target_rows])
