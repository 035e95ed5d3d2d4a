"""Validation tuning of the single recipes (EASE, ALS): chosen on the training data only."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np
import pytest

from streamrec.recommenders import Interactions, create
from streamrec.recommenders.als import TUNING_AXES
from streamrec.recommenders.ease import REGULARIZATION_GRID
from streamrec.recommenders.tuning import (
    coordinate_search,
    grid_search,
    validation_ndcg,
    validation_split,
)


def test_validation_split_holds_out_each_users_last_new_item(interactions: Interactions) -> None:
    validation = validation_split(interactions, max_users=100, seed=1)
    assert validation is not None
    assert validation.users.size == 100
    assert len(validation.fit) < len(interactions)
    fitted = set(zip(validation.fit.user.tolist(), validation.fit.item.tolist(), strict=True))
    for user, target in zip(validation.users.tolist(), validation.targets.tolist(), strict=True):
        assert (user, target) not in fitted  # never fitted on its own target
    again = validation_split(interactions, max_users=100, seed=1)
    assert again is not None and np.array_equal(again.users, validation.users)


def test_too_few_cases_keep_the_defaults() -> None:
    small = Interactions.build(np.repeat(np.arange(5), 4), np.tile(np.arange(4), 5))
    assert validation_split(small) is None
    model = create("ease", tune=True)
    model.fit(small)
    assert model.config.regularization == 500.0
    assert "defaults kept" in model.metadata["tuning"]


def test_grid_search_returns_the_best_candidate(interactions: Interactions) -> None:
    validation = validation_split(interactions)
    assert validation is not None

    def make(params: Any) -> Any:
        return create("ease", **params)

    values = {}
    for reg in (1.0, 100.0, 1e6):
        model = make({"regularization": reg})
        model.fit(validation.fit)
        values[reg] = validation_ndcg(model, validation)
    best, value = grid_search(make, [{"regularization": r} for r in values], validation)
    assert value == max(values.values())
    assert values[best["regularization"]] == value
    with pytest.raises(ValueError):
        grid_search(make, [], validation)


def test_coordinate_search_never_ends_below_its_start(interactions: Interactions) -> None:
    validation = validation_split(interactions)
    assert validation is not None
    axes = {"k": (5, 50), "shrink": (0.0, 10.0)}
    start = {"k": 100, "shrink": 0.0}
    best, value = coordinate_search(lambda p: create("item-knn", **p), start, axes, validation)
    base = create("item-knn", **start)
    base.fit(validation.fit)
    assert value >= validation_ndcg(base, validation)
    assert best["k"] in (5, 50, 100) and best["shrink"] in (0.0, 10.0)


def test_tuned_ease_and_als_record_their_choice(interactions: Interactions) -> None:
    ease = create("ease", tune=True)
    ease.fit(interactions)
    assert ease.config.regularization in REGULARIZATION_GRID
    assert ease.config.tune is False  # the saved model holds the chosen values, not the switch
    assert ease.metadata["tuning"]["chosen"] == {"regularization": ease.config.regularization}
    als = create("als", tune=True, threads=1)
    als.fit(interactions)
    chosen = als.metadata["tuning"]["chosen"]
    assert all(chosen[name] in values for name, values in TUNING_AXES.items())
    assert {k: asdict(als.config)[k] for k in chosen} == chosen
    ids, _ = als.recommend(interactions.histories().slice(0, 3), n=5)
    assert (ids >= 0).all()
