from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.training.splits import first_occurrences, leave_last_out_split, next_event_split


def test_protocol_rules_by_hand() -> None:
    # user 0: a(1) b(2) a(3) c(4) d(4, after c in file order) -> target d; a(3) dropped
    # user 1: a, b (only 2 distinct) -> all training; user 2: b b c a -> target a
    user = np.array([0, 0, 0, 0, 0, 1, 1, 2, 2, 2, 2])
    item = np.array([0, 1, 0, 2, 3, 0, 1, 1, 1, 2, 0])
    ts = np.array([1, 2, 3, 4, 4, 1, 2, 5, 6, 7, 8], dtype=float)
    split = leave_last_out_split(user, item, ts)
    assert split.test_users.tolist() == [0, 2]
    assert split.test_items.tolist() == [3, 0]
    assert np.flatnonzero(split.train_mask).tolist() == [0, 1, 3, 5, 6, 7, 9]


def test_ties_keep_file_order() -> None:
    user, item, ts = np.zeros(4, int), np.array([3, 2, 1, 0]), np.zeros(4)
    split = leave_last_out_split(user, item, ts)
    assert split.test_items.tolist() == [0]
    assert first_occurrences(user, item, ts).tolist() == [0, 1, 2, 3]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8), st.integers(0, 20)), max_size=80))
def test_split_invariants(rows: list[tuple[int, int, int]]) -> None:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    user, item, ts = arr[:, 0], arr[:, 1], arr[:, 2].astype(float)
    split = leave_last_out_split(user, item, ts)
    train_pairs = list(zip(user[split.train_mask], item[split.train_mask], strict=True))
    assert len(train_pairs) == len(set(train_pairs))  # first occurrence only
    for u, target in zip(split.test_users, split.test_items, strict=True):
        mine = user == u
        assert len(set(item[mine].tolist())) >= 3
        assert (u, target) not in train_pairs  # target never leaks into training
        first_ts = {i: ts[mine][item[mine] == i].min() for i in set(item[mine].tolist())}
        assert first_ts[target] == max(first_ts.values())
    tested = set(split.test_users.tolist())
    for u in set(user.tolist()) - tested:
        assert len(set(item[user == u].tolist())) < 3
    n_pairs = len({(a, b) for a, b in zip(user, item, strict=True)})
    assert len(train_pairs) + len(tested) == n_pairs


def test_next_event_rules_by_hand() -> None:
    # seq 0: a(1) b(2) a(3) a(3, later in the file) -> target a (repeats kept, ties in file order)
    # seq 1: c d (2 events) -> training whole; seq 2: b(9) c(5) a(7) -> time order c a b, target b
    seq = np.array([0, 0, 0, 0, 1, 1, 2, 2, 2])
    item = np.array([0, 1, 0, 0, 2, 3, 1, 2, 0])
    ts = np.array([1, 2, 3, 3, 1, 2, 9, 5, 7], dtype=float)
    split = next_event_split(seq, item, ts)
    assert split.test_users.tolist() == [0, 2]
    assert split.test_items.tolist() == [0, 1]
    assert np.flatnonzero(~split.train_mask).tolist() == [3, 6]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 8), st.integers(0, 20)), max_size=80))
def test_next_event_invariants(rows: list[tuple[int, int, int]]) -> None:
    arr = np.array(rows, dtype=np.int64).reshape(-1, 3)
    seq, item, ts = arr[:, 0], arr[:, 1], arr[:, 2].astype(float)
    split = next_event_split(seq, item, ts)
    held_out = np.flatnonzero(~split.train_mask)
    assert held_out.size == split.test_users.size  # exactly one event per test sequence
    assert sorted(seq[held_out].tolist()) == split.test_users.tolist()
    for s in set(seq.tolist()):
        mine = np.flatnonzero(seq == s)
        if mine.size < 3:
            assert split.train_mask[mine].all()
            continue
        target = held_out[seq[held_out] == s][0]
        later = mine[(ts[mine] > ts[target]) | ((ts[mine] == ts[target]) & (mine > target))]
        assert later.size == 0  # the held-out event is the last in time, then in file order
