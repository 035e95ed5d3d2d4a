"""The two baselines of EVALUATION.md's next-event protocol, checked by hand and against a
plain-Python statement of their definition."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.recommenders import Interactions, Recommender, UserHistory, create
from streamrec.recommenders.data import HistoryBatch
from streamrec.recommenders.recent import last_distinct


def fitted(recipe: str) -> Recommender:
    # three sequences: 0-1-2, 0-1-3, 1-4; item 5 is the most popular and co-occurs with nothing
    user = [0, 0, 0, 1, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    item = [0, 1, 2, 0, 1, 3, 1, 4, 5, 5, 5, 5, 5, 5]
    model = create(recipe)
    model.fit(Interactions.build(np.array(user), np.array(item), n_items=8))
    return model


def test_recent_distinct_is_the_last_distinct_items_newest_first() -> None:
    model = fitted("recent-distinct")
    history = UserHistory.of([2, 3, 2, 6, 3, 3])  # distinct, newest first: 3, 6, 2
    ids, _ = model.recommend([history], n=4, exclude_seen=False)
    assert ids[0].tolist() == [3, 6, 2, 5]  # then the most popular item


def test_recent_cooc_ranks_own_items_then_their_neighbours() -> None:
    model = fitted("recent-cooc")
    ids, _ = model.recommend([UserHistory.of([3, 0])], n=5, exclude_seen=False)
    # own: 0 then 3; neighbours of {0, 3}: 1 (3 sequences), 2 (1); then popularity: 5
    assert ids[0].tolist() == [0, 3, 1, 2, 5]


def test_recent_cooc_uses_only_the_last_five_distinct_items() -> None:
    model = fitted("recent-cooc")
    history = UserHistory.of([4, 6, 7, 2, 3, 6, 0])  # last five distinct: 0, 6, 3, 2, 7
    ids, _ = model.recommend([history], n=6, exclude_seen=False)
    assert ids[0][:5].tolist() == [0, 6, 3, 2, 7]
    assert ids[0][5] == 1  # a neighbour of 0, 2 and 3; item 4 (only with 1) is not a seed


@settings(max_examples=50, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=15), min_size=1, max_size=6),
       st.integers(1, 6))  # fmt: skip
def test_last_distinct_matches_its_definition(histories: list[list[int]], k: int) -> None:
    batch = HistoryBatch.from_histories([UserHistory.of(h) for h in histories])
    before = batch.items.copy()
    got = last_distinct(batch, k)
    np.testing.assert_array_equal(batch.items, before)  # the input is never reordered
    for row, history in enumerate(histories):
        expected: list[int] = []
        for item in reversed(history):
            if item not in expected:
                expected.append(item)
        mine = got.rows == row
        order = np.argsort(got.rank[mine])
        assert got.items[mine][order].tolist() == expected[:k]


def test_scoring_leaves_the_histories_untouched() -> None:
    batch = HistoryBatch.from_histories(
        [UserHistory.of([5, 1, 3, 1]), UserHistory.of([]), UserHistory.of([7, 2, 0, 6, 4, 2])]
    )
    before = [a.copy() for a in (batch.indptr, batch.items, batch.weights, batch.timestamps)]
    for recipe in ("recent-distinct", "recent-cooc"):
        fitted(recipe).recommend(batch, n=3)
        after = (batch.indptr, batch.items, batch.weights, batch.timestamps)
        for old, new in zip(before, after, strict=True):
            np.testing.assert_array_equal(old, new)
