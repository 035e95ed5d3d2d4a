"""One contract suite run against every recipe (implicit's recommender_base_test, in spirit)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamrec.errors import ModelError
from streamrec.recommenders import (
    RECIPES,
    Interactions,
    Recommender,
    UserHistory,
    Vocabulary,
    create,
    load_model,
    save_model,
)
from streamrec.recommenders.data import HistoryBatch
from tests.recommenders.cases import fast_params, trained_recipes


@pytest.fixture(params=trained_recipes())
def model(request: pytest.FixtureRequest, interactions: Interactions) -> Recommender:
    m = create(request.param, **fast_params(request.param))
    m.fit(interactions)
    return m


def _histories(interactions: Interactions, users: int = 5) -> HistoryBatch:
    full = interactions.histories()
    return full.slice(0, users)


def test_recommend_shapes_sorted_and_excludes_seen(
    model: Recommender, interactions: Interactions
) -> None:
    batch = _histories(interactions)
    ids, scores = model.recommend(batch, n=7)
    assert ids.shape == scores.shape == (5, 7)
    assert ids.dtype == np.int32
    assert np.all(np.diff(scores, axis=1) <= 0)
    for row in range(5):
        seen = set(batch.slice(row, row + 1).items.tolist())
        assert not seen & set(ids[row].tolist())
        assert ((ids[row] >= 0) & (ids[row] < interactions.n_items)).all()


def test_unknown_user_and_empty_history_get_results(model: Recommender) -> None:
    ids, scores = model.recommend([UserHistory.empty(), UserHistory.of([10_000_000])], n=5)
    assert ids.shape == (2, 5)
    assert np.isfinite(scores).all()


def test_new_user_from_first_click(model: Recommender) -> None:
    ids, _ = model.recommend([UserHistory.of([3])], n=5)
    assert 3 not in ids[0]
    assert (ids[0] >= 0).all()


def test_score_items_matches_recommend(model: Recommender, interactions: Interactions) -> None:
    history = UserHistory.of([1, 2, 3], [1.0, 1.0, 5.0], [10.0, 20.0, 30.0])
    ids, scores = model.recommend([history], n=5)
    cand = np.concatenate([ids[0], [-1, interactions.n_items + 5]])
    ranked = model.score_items(history, cand)
    np.testing.assert_allclose(ranked[:5], scores[0], rtol=1e-5, atol=1e-6)
    assert np.isneginf(ranked[5:]).all()


def test_similar_items_excludes_the_item(model: Recommender) -> None:
    ids, _ = model.similar_items(4, n=6)
    assert ids.shape == (6,)
    assert 4 not in ids
    with pytest.raises(ModelError):
        model.similar_items(-1)


def test_save_load_round_trip(
    model: Recommender, interactions: Interactions, tmp_path: Path
) -> None:
    model.item_vocab = Vocabulary(f"item-{i}" for i in range(interactions.n_items))
    save_model(model, str(tmp_path / "m"))
    loaded = load_model(tmp_path / "m")
    assert type(loaded) is type(model)
    assert loaded.params() == model.params()
    assert loaded.item_vocab == model.item_vocab
    batch = _histories(interactions)
    np.testing.assert_allclose(loaded.score(batch), model.score(batch), rtol=1e-5, atol=1e-6)
    meta = json.loads((tmp_path / "m" / "model.json").read_text())
    assert meta["recipe"] == model.recipe
    assert meta["metadata"]["n_interactions"] == len(interactions)


def test_corrupt_or_partial_files_refused(model: Recommender, tmp_path: Path) -> None:
    save_model(model, str(tmp_path / "m"))
    arrays = tmp_path / "m" / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF
    arrays.write_bytes(bytes(data))
    with pytest.raises(ModelError, match="checksum"):
        load_model(tmp_path / "m")
    arrays.write_bytes(bytes(data[: len(data) // 3]))
    with pytest.raises(ModelError):
        load_model(tmp_path / "m")
    (tmp_path / "m" / "model.json").unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model(tmp_path / "m")


def test_wrong_shape_in_metadata_refused(model: Recommender, tmp_path: Path) -> None:
    save_model(model, str(tmp_path / "m"))
    meta_file = tmp_path / "m" / "model.json"
    meta = json.loads(meta_file.read_text())
    name = next(iter(meta["arrays"]))
    meta["arrays"][name]["shape"] = [7, 7, 7]
    meta_file.write_text(json.dumps(meta))
    with pytest.raises(ModelError, match=name):
        load_model(tmp_path / "m")


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_too_little_data_names_the_minimum(recipe: str) -> None:
    tiny = Interactions.build(np.array([0, 0, 1]), np.array([0, 1, 0]))
    with pytest.raises(ModelError, match="at least 10 interactions"):
        create(recipe).fit(tiny)


@pytest.mark.parametrize("recipe", sorted(RECIPES))
def test_untrained_model_refuses_to_serve(recipe: str) -> None:
    with pytest.raises(ModelError, match="not trained"):
        create(recipe).recommend([UserHistory.of([1])], n=3)
