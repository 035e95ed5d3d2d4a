"""A model's reasons (recommenders/reasons.py, hybrid_reasons.py): the terms the hybrid's
explainer splits by history item add up to the score it serves, and the winner is the largest."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.recommenders.popularity import Popularity, Trending
from streamrec.recommenders.reasons import EVENT, POPULAR, REPEAT, TRENDING
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events


def fitted(model: Recommender) -> Recommender:
    model.fit(encode_events(generate_interactions(80, 60, 4000, seed=3)).interactions())
    return model


def history(seed: int, length: int = 12) -> UserHistory:
    rng = np.random.default_rng(seed)
    items = rng.integers(0, 60, length)
    return UserHistory.of(items, rng.choice([1.0, 2.0, 4.0], length), np.arange(length) * 60.0)


HYBRIDS = [
    {"base": "knn", "repeat_weight": 1.0, "transition_weight": 0.3},
    {"base": "ease", "repeat_weight": 2.0, "transition_weight": 1.0},
    {"base": "knn", "popularity_weight": 0.0},
]


@pytest.mark.parametrize("params", HYBRIDS)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_hybrid_terms_add_up_to_the_served_score(params: dict[str, Any], seed: int) -> None:
    model = fitted(Hybrid(tune=False, **params))
    user = model.user_scores(history(seed))
    assert user is not None and user.explain is not None
    explainer: Any = user.explain
    covered = (
        user.items if params["base"] == "knn" else np.intersect1d(user.items, model.base_items)
    )
    terms = explainer.terms(covered)
    total = terms.events.sum(axis=0) + terms.prior + terms.repeat
    expected = user.at(covered)
    np.testing.assert_allclose(total, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("params", HYBRIDS)
def test_hybrid_reason_is_the_largest_term(params: dict[str, Any]) -> None:
    model = fitted(Hybrid(tune=False, **params))
    hist = history(7)
    ids, _ = model.recommend_user(hist, 15, exclude_seen=False)
    found = model.explain(hist, ids.astype(np.int64))
    user = model.user_scores(hist)
    assert user is not None
    explainer: Any = user.explain
    terms = explainer.terms(ids.astype(np.int64))
    for k, item in enumerate(ids.tolist()):
        best_event = terms.events[:, k].max(initial=-np.inf)
        if found.kinds[k] == EVENT:
            assert found.sources[k] in set(hist.items.tolist())
            assert best_event == pytest.approx(found.strengths[k])
            assert best_event >= max(terms.prior[k], terms.repeat[k])
        elif found.kinds[k] == REPEAT:
            assert found.sources[k] == item and item in set(hist.items.tolist())
            assert terms.repeat[k] > best_event
        else:
            assert found.kinds[k] == POPULAR and found.sources[k] == -1
            assert terms.prior[k] > max(best_event, 0.0) or best_event <= 0
    assert EVENT in found.kinds


def test_leave_one_in_names_a_history_item_of_any_recipe() -> None:
    model = fitted(ItemKNN(k=20))
    hist = history(4, length=6)
    ids, _ = model.recommend_user(hist, 10)
    found = model.explain(hist, ids.astype(np.int64))
    own = set(hist.items.tolist())
    assert set(found.kinds) == {EVENT}
    assert set(found.sources) <= own
    # the named item alone scores the target at least as high as any other history item alone
    for k, item in enumerate(ids.tolist()):
        alone = {h: model.score([UserHistory.of([h])])[0][item] for h in own}
        assert alone[found.sources[k]] == max(alone.values())


def test_history_free_recipes_name_their_prior() -> None:
    hist = history(5)
    targets = np.arange(5, dtype=np.int64)
    assert set(fitted(Popularity()).explain(hist, targets).kinds) == {POPULAR}
    assert set(fitted(Trending()).explain(hist, targets).kinds) == {TRENDING}
