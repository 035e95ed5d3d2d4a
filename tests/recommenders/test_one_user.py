"""The one-user path (recommend_user / user_scores) returns exactly the batch path's ranking,
for every recipe that has one (Hybrid with each base, ItemKNN)."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.recommenders import hybrid
from streamrec.recommenders.base import Recommender, as_batch, top_k
from streamrec.recommenders.data import EVENT_TYPES, Interactions, UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.recommenders.one_user import best_n, sparse_row_product
from streamrec.recommenders.sparse import history_matrix
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events

# the blend with every term on (the fast path skips none), per base; and no popularity term
VARIANTS = {
    "knn": {"base": "knn", "repeat_weight": 2.0, "transition_weight": 0.3},
    "ease": {"base": "ease", "repeat_weight": 2.0, "transition_weight": 0.3},
    "knn-no-prior": {"base": "knn", "popularity_weight": 0.0, "repeat_weight": 1.0},
    "ease-no-transitions": {"base": "ease", "transition_weight": 0.0, "half_life_events": None},
}


@functools.cache
def data() -> Interactions:
    table = generate_interactions(n_users=300, n_items=200, n_events=6_000, seed=7)
    return encode_events(table).interactions()


KNN_VARIANTS = {
    "item-knn": {"k": 20},
    "item-knn-binary-recent": {"k": 20, "binary": True, "half_life_events": 4.0},
}


@functools.cache
def fitted(variant: str) -> Recommender:
    model: Recommender
    if variant in KNN_VARIANTS:
        model = ItemKNN(**KNN_VARIANTS[variant])  # type: ignore[arg-type]
    else:
        model = Hybrid(tune=False, **VARIANTS[variant])  # type: ignore[arg-type]
    model.fit(data())
    return model


ALL = sorted(VARIANTS) + sorted(KNN_VARIANTS)


@functools.cache
def tuned() -> Hybrid:
    model = Hybrid()
    model.fit(data())
    return model


def histories(n: int, seed: int) -> list[UserHistory]:
    """``n`` histories (more than one 512-user chunk): the training users' sequences and random
    windows of them, so items repeat, types mix and some histories are short."""
    full = data().histories()
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n):
        user = k % full.n_users
        lo, hi = int(full.indptr[user]), int(full.indptr[user + 1])
        if k >= full.n_users and hi - lo > 1:
            lo = int(rng.integers(lo, hi - 1))
            hi = int(rng.integers(lo + 1, hi + 1))
        out.append(UserHistory(full.items[lo:hi], full.weights[lo:hi], full.timestamps[lo:hi],
                               full.types()[lo:hi]))  # fmt: skip
    return out


def assert_same_rows(
    model: Recommender, batch: list[UserHistory], n: int, exclude: list[np.ndarray]
) -> None:
    ids, vals = model.recommend(batch, n, exclude=exclude)
    for row, history in enumerate(batch):
        one_ids, one_vals = model.recommend_user(history, n, exclude=exclude[row])
        np.testing.assert_array_equal(one_ids, ids[row], err_msg=f"row {row}")
        np.testing.assert_array_equal(one_vals, vals[row], err_msg=f"row {row}")


@pytest.mark.parametrize("variant", ALL)
def test_one_user_path_ranks_as_the_batch_path(variant: str) -> None:
    model = fitted(variant)
    batch = histories(700, seed=1)
    rng = np.random.default_rng(2)
    exclude = [rng.integers(0, model.n_items, rng.integers(0, 30)) for _ in batch]
    for n in (1, 10, 50):
        assert_same_rows(model, batch, n, exclude)


def test_tuned_default_recipe_ranks_as_the_batch_path() -> None:
    model = tuned()
    batch = histories(600, seed=3)
    assert_same_rows(model, batch, 10, [np.zeros(0, np.int64)] * len(batch))


def test_excluding_almost_everything_leaves_the_rest_padded() -> None:
    model = fitted("knn")
    history = histories(1, seed=0)[0]
    exclude = np.arange(model.n_items - 3)
    ids, vals = model.recommend_user(history, 10, exclude=exclude)
    batch_ids, batch_vals = model.recommend([history], 10, exclude=[exclude])
    np.testing.assert_array_equal(ids, batch_ids[0])
    np.testing.assert_array_equal(vals, batch_vals[0])
    assert (ids == -1).sum() >= 7


history_entries = st.lists(
    st.tuples(
        st.integers(0, 205),  # a few items the model never saw (dropped as in the batch path)
        st.sampled_from([0.5, 1.0, 2.0, 3.0]),
        st.integers(0, len(EVENT_TYPES) - 1),
    ),
    max_size=60,
)


@settings(max_examples=60, deadline=None)
@given(
    entries=history_entries,
    variant=st.sampled_from(ALL),
    n=st.integers(1, 30),
    exclude=st.lists(st.integers(-3, 210), max_size=20),
)
def test_random_histories_rank_as_the_batch_path(
    entries: list[tuple[int, float, int]], variant: str, n: int, exclude: list[int]
) -> None:
    model = fitted(variant)
    history = UserHistory.of([e[0] for e in entries], [e[1] for e in entries], None,
                             [e[2] for e in entries])  # fmt: skip
    drop = np.array(exclude, dtype=np.int64)
    for exclude_seen in (True, False):
        ids, vals = model.recommend([history], n, exclude_seen, [drop])
        one_ids, one_vals = model.recommend_user(history, n, exclude_seen, drop)
        np.testing.assert_array_equal(one_ids, ids[0])
        np.testing.assert_array_equal(one_vals, vals[0])


@pytest.mark.parametrize("variant", ALL)
def test_no_method_changes_its_inputs(variant: str) -> None:
    model = fitted(variant)
    history = histories(400, seed=4)[350]
    before = [a.copy() for a in (history.items, history.weights, history.timestamps)]
    exclude = np.array([3, 1, 2, 1])
    kept = exclude.copy()
    model.recommend_user(history, 10, exclude=exclude)
    user = model.user_scores(history)
    assert user is not None
    user_items = user.items.copy()
    user.at(np.array([5, 1, 5]))
    model.recommend([history], 10, exclude=[exclude])
    for got, want in zip((history.items, history.weights, history.timestamps), before, strict=True):
        np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(exclude, kept)
    np.testing.assert_array_equal(user.items, user_items)


@pytest.mark.parametrize("variant", ["ease", "knn", "item-knn"])
def test_user_scores_give_every_items_batch_score(variant: str) -> None:
    model = fitted(variant)
    for history in histories(320, seed=5)[300:]:
        user = model.user_scores(history)
        assert user is not None
        dense = model.score([history])[0]
        np.testing.assert_array_equal(user.at(np.arange(model.n_items)), dense)


def test_sparse_row_product_sums_as_scipy_does() -> None:
    model = fitted("knn")
    assert isinstance(model, Hybrid)
    for history in histories(310, seed=6)[300:]:
        hist = history_matrix(as_batch([history]).known(model.n_items), model.n_items, 8.0)
        cols, sums = sparse_row_product(hist.indices, hist.data, model.base_sparse)
        dense = (hist @ model.base_sparse).toarray()[0]
        np.testing.assert_array_equal(sums, dense[cols])
        assert np.count_nonzero(dense) == np.count_nonzero(sums)


@pytest.mark.parametrize("kernel", ["scipy kernel", "public product"])
def test_ease_history_product_sums_as_scipy_does(
    kernel: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if kernel == "public product":
        monkeypatch.setattr(hybrid, "_csr_matvecs", None)
    rng = np.random.default_rng(3)
    dense = rng.standard_normal((300, 250)).astype(np.float32)
    for size in (0, 1, 7, 40, 300):
        rows = np.sort(rng.choice(300, size, replace=False)).astype(np.int64)
        values = rng.random(size).astype(np.float32)
        hist = sp.csr_matrix((values, rows, np.array([0, size])), shape=(1, 300))
        expected = np.asarray(hist @ dense, dtype=np.float32)
        got = hybrid._history_product(values, rows, dense)
        assert got.shape == (1, 250) and got.dtype == np.float32
        np.testing.assert_array_equal(got, expected)


scores_with_ties = st.lists(st.sampled_from([-np.inf, 0.0, 0.5, 1.0, 2.0]), min_size=1,
                            max_size=40)  # fmt: skip


@given(rows=st.lists(scores_with_ties, min_size=1, max_size=4), n=st.integers(0, 45))
def test_top_k_breaks_ties_by_lower_index(rows: list[list[float]], n: int) -> None:
    width = min(len(r) for r in rows)
    scores = np.array([r[:width] for r in rows], dtype=np.float32)
    idx, vals = top_k(scores, n)
    for row, values in enumerate(scores):
        expected = np.lexsort((np.arange(width), -values))[: min(n, width)]
        finite = np.isfinite(values[expected])
        np.testing.assert_array_equal(idx[row][finite], expected[finite])
        assert (idx[row][~finite] == -1).all()
        np.testing.assert_array_equal(vals[row][finite], values[expected][finite])
        best_idx, _ = best_n(np.arange(width), values.astype(np.float64), n)
        np.testing.assert_array_equal(best_idx, expected[finite])
