"""The two splits of /shared/EVALUATION.md, on int-coded arrays: temporal leave-last-out (first
occurrences only) and next event (repeats allowed)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "LeaveLastOutSplit",
    "first_occurrences",
    "leave_last_out_split",
    "next_event_split",
]

MIN_DISTINCT_ITEMS = 3
MIN_SEQUENCE_EVENTS = 3


@dataclass(frozen=True)
class LeaveLastOutSplit:
    train_mask: np.ndarray  # bool [n]: the training rows (never a test target)
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


def next_event_split(
    sequence: np.ndarray, item: np.ndarray, timestamp: np.ndarray
) -> LeaveLastOutSplit:
    """EVALUATION.md's second protocol: events ordered by timestamp per sequence (ties keep the
    input order), nothing de-duplicated; every sequence with at least 3 events gives one test
    case, its last event's item, and every other event (of every sequence) is training."""
    order = np.argsort(np.asarray(timestamp), kind="stable")
    seq = np.asarray(sequence, dtype=np.int64)
    n_seq = int(seq.max()) + 1 if seq.size else 0
    counts = np.bincount(seq, minlength=n_seq)
    last_row = np.full(n_seq, -1, dtype=np.int64)
    last_row[seq[order]] = order  # later rows in time order overwrite earlier: the last stays
    test_users = np.flatnonzero(counts >= MIN_SEQUENCE_EVENTS)
    target_rows = last_row[test_users]
    mask = np.ones(seq.size, dtype=bool)
    mask[target_rows] = False
    return LeaveLastOutSplit(mask, test_users, np.asarray(item, dtype=np.int64)[target_rows])
