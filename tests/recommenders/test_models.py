"""Recipe-specific behaviour: EASE's size limit, trending, top-k, vocabulary, event weights."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from streamrec.errors import ConfigError, ModelError
from streamrec.recommenders import (
    EASE,
    Hybrid,
    Interactions,
    ItemKNN,
    Trending,
    TrendingCounter,
    UserHistory,
    Vocabulary,
    create,
    top_k,
)
from streamrec.training.interactions import EncodedEvents


def test_ease_refuses_large_catalogue_with_clear_error(interactions: Interactions) -> None:
    with pytest.raises(ModelError, match="max_items=50"):
        EASE(max_items=50).fit(interactions)


def test_ease_matches_closed_form_on_tiny_matrix() -> None:
    x = np.array([[1, 1, 0], [1, 0, 1], [0, 1, 1], [1, 1, 1]], dtype=np.float64)
    users, items = np.nonzero(x)
    inter = Interactions.build(np.repeat(users, 3), np.repeat(items, 3))
    model = EASE(regularization=2.0)
    model.fit(inter)
    p = np.linalg.inv(x.T @ x + 2.0 * np.eye(3))
    expected = p / -np.diag(p)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(model.weights, expected, rtol=1e-5)


def test_unknown_recipe_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="unknown recipe"):
        create("nope")


def test_item_knn_purchase_counts_more_than_view() -> None:
    # item 0 is viewed with item 1 by three users and bought with item 2 by three others
    users = np.repeat(np.arange(6), 2)
    items = np.array([0, 1] * 3 + [0, 2] * 3)
    weights = np.array([1.0] * 6 + [5.0] * 6, dtype=np.float32)
    inter = Interactions.build(users, items, weight=weights, n_items=3)
    inter = Interactions.build(
        np.concatenate([inter.user, inter.user]), np.concatenate([inter.item, inter.item]),
        weight=np.concatenate([inter.weight, inter.weight]), n_items=3,
    )  # fmt: skip
    model = ItemKNN()
    model.fit(inter)
    ids, _ = model.similar_items(0, n=2)
    assert ids[0] == 2


def test_trending_counter_matches_batch_recipe() -> None:
    rng = np.random.default_rng(3)
    items = rng.integers(0, 30, 2_000)
    ts = np.sort(rng.uniform(0, 7_200, 2_000))
    counter = TrendingCounter(window_s=3_600.0, buckets_per_window=1)
    for chunk in np.array_split(np.arange(items.size), 17):
        counter.update(items[chunk], ts[chunk])
    # batch recipe over the same two windows ending at the last bucket boundary
    model = Trending(window_s=3_600.0)
    model.fit(Interactions.build(np.zeros(items.size, int), items, np.append(ts[:-1], 7_199.999)))
    recent, previous = counter.windows(7_199.999)
    assert recent.sum() + previous.sum() == items.size
    np.testing.assert_allclose(counter.scores(7_199.999), model.item_scores, rtol=1e-5)


def test_trending_counter_drops_old_windows_and_grows() -> None:
    counter = TrendingCounter(n_items=2, window_s=10.0, buckets_per_window=2)
    counter.update(np.array([0, 0, 0]), np.array([1.0, 2.0, 3.0]))
    counter.update(np.array([5]), np.array([100.0]))
    recent, previous = counter.windows(100.0)
    assert recent.shape == (6,)
    assert recent[5] == 1 and recent[0] == 0 and previous.sum() == 0
    top, _ = counter.top(100.0, n=1)
    assert top[0] == 5


@settings(max_examples=50, deadline=None)
@given(
    hnp.arrays(np.float32, st.tuples(st.integers(1, 4), st.integers(1, 30)),
               elements=st.floats(-1e3, 1e3, width=32)),
    st.integers(1, 40),
)  # fmt: skip
def test_top_k_returns_the_best_scores_in_order(scores: np.ndarray, n: int) -> None:
    ids, vals = top_k(scores, n)
    k = min(n, scores.shape[1])
    assert ids.shape == (scores.shape[0], k)
    expected = -np.sort(-scores, axis=1)[:, :k]
    np.testing.assert_array_equal(vals, expected)
    np.testing.assert_array_equal(np.take_along_axis(scores, ids, axis=1), vals)


def test_vocabulary_first_seen_order_and_unknowns() -> None:
    vocab, codes = Vocabulary.encode(["b", "a", "b", "c"])
    assert vocab.ids() == ["b", "a", "c"]
    assert codes.tolist() == [0, 1, 0, 2]
    assert vocab.indices(["c", "zz"]).tolist() == [2, -1]
    assert vocab.add(["d", "a"]).tolist() == [3, 1]
    assert vocab.ids(np.array([3, -1, 0])) == ["d", "b"]


def test_hybrid_learns_the_planted_sequence(events: EncodedEvents) -> None:
    """Synthetic sessions follow item successors half the time: the transition component
    must put the successor of the last item near the top for a brand-new user."""
    from streamrec.synthetic import item_structure

    model = Hybrid()
    model.fit(events.interactions())
    structure = item_structure(200, seed=7)
    hits = probes = 0
    for n in range(0, 200, 5):
        item, nxt = events.items.index(f"item-{n}"), structure.successor(np.array([n]))[0]
        if item < 0 or f"item-{nxt}" not in events.items:
            continue
        ids, _ = model.recommend([UserHistory.of([item])], n=5)
        probes += 1
        hits += int(events.items.index(f"item-{nxt}") in ids[0])
    assert probes >= 30
    assert hits >= 0.7 * probes
    assert model.config.transition_weight > 0
