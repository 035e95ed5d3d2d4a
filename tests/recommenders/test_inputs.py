"""What scoring must never do to the histories it is given, and the paths that must agree.

Serving scores one user at a time, evaluation scores batches of many users in chunks: both must
rank alike, and neither may reorder the caller's arrays (scipy's ``sum_duplicates`` sorts the
index arrays it is handed in place, which once turned "the last three items" into "the three
highest item ids")."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.recommenders import RECIPES, Interactions, Recommender, UserHistory, create
from streamrec.recommenders.base import _BATCH
from streamrec.recommenders.data import HistoryBatch
from streamrec.recommenders.hybrid import Hybrid
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events
from tests.recommenders.cases import HAS_JAX, fast_params, trained_recipes


@pytest.fixture(scope="module")
def fitted(interactions_module: Interactions) -> dict[str, Recommender]:
    models = {}
    for name in sorted(RECIPES):
        if name == "sequential" and not HAS_JAX:
            continue
        model = create(name, **fast_params(name))
        model.fit(interactions_module)
        models[name] = model
    return models


@pytest.fixture(scope="module")
def interactions_module() -> Interactions:
    table = generate_interactions(n_users=700, n_items=120, n_events=9_000, seed=3)
    return encode_events(table).interactions()


def _arrays(batch: HistoryBatch) -> list[np.ndarray]:
    return [batch.indptr, batch.items, batch.weights, batch.timestamps, batch.types()]


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.lists(st.integers(0, 119), min_size=0, max_size=12), min_size=1, max_size=6)
)
def test_no_recipe_mutates_the_histories_it_scores(
    fitted: dict[str, Recommender], rows: list[list[int]]
) -> None:
    batch = HistoryBatch.from_histories([UserHistory.of(r) for r in rows])
    before = [a.copy() for a in _arrays(batch)]
    for name, model in fitted.items():
        model.score(batch)
        model.recommend(batch, n=5)
        for original, now in zip(before, _arrays(batch), strict=True):
            assert np.array_equal(original, now), f"{name} changed its input"


@pytest.mark.parametrize("name", trained_recipes())
def test_batch_and_single_user_paths_rank_alike(
    fitted: dict[str, Recommender], interactions_module: Interactions, name: str
) -> None:
    histories = interactions_module.histories()
    assert histories.n_users > _BATCH  # the batch path works in chunks: cross a chunk border
    model = fitted[name]
    batch_ids, _ = model.recommend(histories, n=10)
    for user in (0, 1, _BATCH - 1, _BATCH, _BATCH + 1, histories.n_users - 1):
        single, _ = model.recommend(histories.slice(user, user + 1), n=10)
        assert np.array_equal(single[0], batch_ids[user]), f"{name} user {user}"


def test_transition_scores_follow_the_time_order() -> None:
    """The same items in another order: the newest item's successors must lead."""
    table = generate_interactions(n_users=300, n_items=60, n_events=6_000, seed=5)
    model = Hybrid(tune=False, transition_weight=1.0)
    model.fit(encode_events(table).interactions())
    items = np.arange(8, dtype=np.int32)
    forward = model._recent_scores(
        HistoryBatch.from_histories([UserHistory.of(items)]), model.transitions
    )
    backward = model._recent_scores(
        HistoryBatch.from_histories([UserHistory.of(items[::-1])]), model.transitions
    )
    assert not np.allclose(forward, backward)
    newest_row = model.transitions[7].toarray().ravel()
    if newest_row.any():
        assert np.argmax(forward[0]) in np.flatnonzero(newest_row)
