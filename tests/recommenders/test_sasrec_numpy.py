"""The numpy SASRec forward pass (what serving runs): padding, causality, the one-user path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from streamrec.errors import ModelError
from streamrec.recommenders.data import HistoryBatch, UserHistory
from streamrec.recommenders.sasrec_numpy import forward_last, item_logits, weight_names
from streamrec.recommenders.sequential import (
    Sequential,
    member_arrays,
    right_aligned,
    split_members,
)
from streamrec.testing.sasrec import random_weights as sasrec_weights

DIM, MAX_LEN, N_ITEMS, BLOCKS, HEADS = 8, 6, 12, 2, 2


def random_weights(seed: int = 0) -> dict[str, np.ndarray]:
    return sasrec_weights(N_ITEMS, DIM, MAX_LEN, BLOCKS, seed)


def model(seed: int = 0) -> Sequential:
    m = Sequential(dim=DIM, max_len=MAX_LEN, n_blocks=BLOCKS, n_heads=HEADS, tune=False)
    m.n_items = N_ITEMS
    m._set_members([random_weights(seed)])
    return m


def test_left_padding_gives_the_unpadded_output() -> None:
    w = random_weights()
    padded = np.array([[0, 0, 0, 3, 5, 7], [1, 2, 3, 4, 5, 6]])
    both = forward_last(w, padded, BLOCKS, HEADS)
    alone = forward_last(w, padded[:1, 3:], BLOCKS, HEADS)
    assert both.shape == (2, DIM)
    np.testing.assert_allclose(both[0], alone[0], atol=1e-6)


def test_the_newest_event_changes_the_output_and_padding_values_do_not() -> None:
    w = random_weights()
    base = forward_last(w, np.array([[0, 0, 4, 5, 6, 7]]), BLOCKS, HEADS)
    clicked = forward_last(w, np.array([[0, 4, 5, 6, 7, 9]]), BLOCKS, HEADS)
    assert not np.allclose(base, clicked)
    w2 = dict(w)
    w2["item_emb"] = w["item_emb"].copy()
    w2["item_emb"][0] = 100.0  # the padding row is never read as an item
    np.testing.assert_array_equal(base, forward_last(w2, np.array([[0, 0, 4, 5, 6, 7]]), 2, 2))


def test_logits_cover_every_item_and_skip_the_padding_row() -> None:
    w = random_weights()
    hidden = forward_last(w, np.array([[1, 2]]), BLOCKS, HEADS)
    logits = item_logits(w, hidden)
    assert logits.shape == (1, N_ITEMS)
    np.testing.assert_allclose(logits[0, 0], hidden[0] @ w["item_emb"][1], rtol=1e-6)


def test_right_aligned_keeps_the_last_events_and_skips_empty_rows() -> None:
    batch = HistoryBatch.from_histories(
        [UserHistory.of([0, 1, 2, 3, 4, 5, 6, 7]), UserHistory.empty(), UserHistory.of([9])]
    )
    rows, seqs = right_aligned(batch, MAX_LEN)
    assert rows.tolist() == [0, 2]
    assert seqs.tolist() == [[3, 4, 5, 6, 7, 8], [0, 0, 0, 0, 0, 10]]


def test_scores_are_probabilities_relative_to_the_top_item() -> None:
    m = model()
    scores = m.score([UserHistory.of([1, 2, 3]), UserHistory.empty()])
    assert scores.shape == (2, N_ITEMS)
    assert scores[0].max() == pytest.approx(1.0)
    assert (scores[0] > 0).all()
    order = np.argsort(-m.logits(HistoryBatch.from_histories([UserHistory.of([1, 2, 3])]))[0])
    assert np.array_equal(np.argsort(-scores[0]), order)
    assert np.all(scores[1] == 1.0)  # nothing known: no preference


def test_a_click_changes_the_recommendations() -> None:
    m = model()
    before, _ = m.recommend([UserHistory.of([1, 2, 3])], n=5)
    after, _ = m.recommend([UserHistory.of([1, 2, 3, 8])], n=5)
    assert not np.array_equal(before, after)
    assert 8 not in after[0]


def test_training_without_the_extra_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import streamrec.recommenders as package
    from streamrec.errors import ModelError
    from streamrec.recommenders.data import Interactions

    # hidden as an uninstalled extra is: no module, and no attribute left on the package by an
    # earlier import (``from package import name`` finds the attribute first)
    monkeypatch.setitem(__import__("sys").modules, "streamrec.recommenders.sasrec_jax", None)
    monkeypatch.delattr(package, "sasrec_jax", raising=False)
    data = Interactions.build(np.repeat(np.arange(4), 5), np.tile(np.arange(5), 4))
    with pytest.raises(ModelError, match=r"streamrec\[sequential\]"):
        Sequential(tune=False, epochs=1).fit(data)


def ensemble(*seeds: int) -> Sequential:
    m = Sequential(dim=DIM, max_len=MAX_LEN, n_blocks=BLOCKS, n_heads=HEADS, tune=False,
                   members=len(seeds))  # fmt: skip
    m.n_items = N_ITEMS
    m._set_members([random_weights(seed) for seed in seeds])
    return m


def test_an_ensemble_scores_with_its_members_mean_logits() -> None:
    batch = HistoryBatch.from_histories([UserHistory.of([1, 4, 2]), UserHistory.of([7])])
    members = [model(seed).logits(batch) for seed in (0, 1, 2)]
    np.testing.assert_allclose(ensemble(0, 1, 2).logits(batch), np.mean(members, axis=0),
                               rtol=1e-5, atol=1e-6)  # fmt: skip
    one = HistoryBatch.from_histories([UserHistory.of([1, 4, 2])])  # the one-user path
    np.testing.assert_allclose(ensemble(0, 1, 2).logits(one)[0], np.mean(members, axis=0)[0],
                               rtol=1e-5, atol=1e-6)  # fmt: skip


def test_an_ensemble_saves_and_loads_every_member(tmp_path: Path) -> None:
    from streamrec.recommenders import load_model, save_model

    saved = ensemble(0, 1)
    save_model(saved, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    assert isinstance(loaded, Sequential) and len(loaded.members) == 2
    history = [UserHistory.of([3, 5])]
    np.testing.assert_array_equal(loaded.score(history), saved.score(history))


def test_member_arrays_keep_the_first_members_names_and_read_back() -> None:
    members = [random_weights(0), random_weights(1)]
    arrays = member_arrays(members)
    assert set(weight_names(BLOCKS)) < set(arrays)  # a one-member model's names, unchanged
    assert "m1_item_emb" in arrays
    back = split_members(arrays)
    assert len(back) == 2
    for got, want in zip(back, members, strict=True):
        assert got.keys() == want.keys()
        for name in want:
            np.testing.assert_array_equal(got[name], want[name])
    with pytest.raises(ModelError, match="members missing"):
        split_members({k: v for k, v in member_arrays([*members, members[0]]).items()
                       if not k.startswith("m1_")})  # fmt: skip
