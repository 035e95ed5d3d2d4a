"""The sequential recipe's training (JAX): it learns what comes next, the numpy forward pass that
serving runs matches JAX's to 1e-5, tuning stays within its time budget, saving round-trips."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from streamrec.recommenders import Interactions, UserHistory, create, load_model, save_model
from streamrec.recommenders.sequential import CANDIDATES, Sequential
from tests.recommenders.cases import NEEDS_JAX

pytestmark = NEEDS_JAX

N_ITEMS = 30


def cycles(n_users: int = 120, seed: int = 0) -> Interactions:
    """Each user walks the items in order (item i, then i + 1 mod N_ITEMS) from a random start:
    only the order of events says what comes next."""
    rng = np.random.default_rng(seed)
    users, items = [], []
    for user in range(n_users):
        start, length = int(rng.integers(N_ITEMS)), int(rng.integers(8, 16))
        users += [user] * length
        items += [(start + step) % N_ITEMS for step in range(length)]
    return Interactions.build(np.array(users), np.array(items), n_items=N_ITEMS)


@pytest.fixture(scope="module")
def trained() -> Sequential:
    model = Sequential(tune=False, epochs=40, dim=16, max_len=8, dropout=0.1, learning_rate=5e-3)
    model.fit(cycles())
    return model


def test_it_learns_the_next_item_from_the_order_of_events(trained: Sequential) -> None:
    histories = [UserHistory.of([(s + k) % N_ITEMS for k in range(5)]) for s in range(N_ITEMS)]
    top, _ = trained.recommend(histories, n=1)
    expected = [(s + 5) % N_ITEMS for s in range(N_ITEMS)]
    assert np.mean(top[:, 0] == np.array(expected)) >= 0.9


def test_the_newest_click_decides_the_answer(trained: Sequential) -> None:
    top, _ = trained.recommend([UserHistory.of([3, 4, 5]), UserHistory.of([3, 4, 5, 20])], n=1)
    assert top[:, 0].tolist() == [6, 21]


def test_numpy_forward_pass_matches_jax_to_1e5(trained: Sequential) -> None:
    import jax.numpy as jnp

    from streamrec.recommenders import sasrec_jax as sj

    cfg = trained.config
    arch = sj.Architecture(N_ITEMS, cfg.dim, cfg.max_len, cfg.n_blocks, cfg.n_heads, cfg.dropout)
    histories = [UserHistory.of([1, 2, 3]), UserHistory.of(list(range(12))), UserHistory.of([7])]
    seqs = np.zeros((3, cfg.max_len), np.int64)
    for row, h in enumerate(histories):
        last = h.items[-cfg.max_len :] + 1
        seqs[row, cfg.max_len - last.size :] = last
    params = {k: jnp.asarray(v) for k, v in trained.weights.items()}
    hidden = np.asarray(sj.forward_all(params, jnp.asarray(seqs), arch))[:, -1, :]
    jax_logits = hidden @ trained.weights["item_emb"][1:].T
    from streamrec.recommenders.data import HistoryBatch

    numpy_logits = trained.logits(HistoryBatch.from_histories(histories))
    np.testing.assert_allclose(numpy_logits, jax_logits, atol=1e-5, rtol=1e-5)


def test_save_and_load_serve_the_same_scores(trained: Sequential, tmp_path: Path) -> None:
    save_model(trained, tmp_path / "m")
    loaded = load_model(tmp_path / "m")
    history = [UserHistory.of([9, 10, 11])]
    np.testing.assert_array_equal(loaded.score(history), trained.score(history))
    assert loaded.params() == trained.params()


def test_tuning_chooses_on_validation_within_the_time_budget() -> None:
    model = create("sequential", train_time_budget_s=20.0, epochs=30, learning_rate=5e-3)
    started = time.perf_counter()
    model.fit(cycles(200, seed=1))
    took = time.perf_counter() - started
    info = model.metadata["training"]
    assert info["tuning"] == "validation"
    assert info["candidates"] and all("validation_ndcg@10" in c for c in info["candidates"])
    assert info["validation_ndcg@10"] > 0.5  # the order of events is all there is to learn
    assert model.config.tune is False and model.config.stream_weight > 0
    # past the budget at most: per candidate, one batch (and its compilation) and a validation
    assert took < 20.0 + 120.0  # compiling the step alone took 60 s on a 2-core box at load 13


def test_sampled_softmax_learns_too() -> None:
    model = Sequential(tune=False, epochs=40, dim=16, max_len=8, dropout=0.1,
                       learning_rate=5e-3, loss="sampled", n_negatives=8)  # fmt: skip
    model.fit(cycles())
    top, _ = model.recommend([UserHistory.of([3, 4, 5])], n=3)
    assert 6 in top[0]


def test_tuning_can_give_the_whole_budget_to_the_first_candidate() -> None:
    model = create("sequential", train_time_budget_s=10.0, epochs=10, learning_rate=5e-3,
                   candidates=1)  # fmt: skip
    model.fit(cycles(200, seed=1))
    tried = model.metadata["training"]["candidates"]
    assert [(c["dim"], c["max_len"], c["dropout"]) for c in tried] == [CANDIDATES[0]]


def test_more_members_are_trained_from_the_next_seeds_and_kept_only_where_they_help() -> None:
    model = create("sequential", train_time_budget_s=120.0, epochs=10, learning_rate=5e-3,
                   candidates=1, members=2)  # fmt: skip
    model.fit(cycles(200, seed=1))
    info = model.metadata["training"]
    grown = info["members"]
    assert [m["seed"] for m in grown] == [0, 1]  # 10 epochs each fit the budget
    assert "with_the_others" in grown[1]
    kept = sum(m["kept"] for m in grown)
    assert isinstance(model, Sequential)
    assert len(model.members) == model.config.members == kept
    # the validation NDCG@10 reported is the served ensemble's
    last_kept = grown[1]["with_the_others"] if grown[1]["kept"] else grown[0]["validation_ndcg@10"]
    assert info["validation_ndcg@10"] == last_kept


def _targets_of(targets: np.ndarray) -> list[int]:
    return sorted(int(t) for t in targets[targets > 0])


def test_random_cuts_keep_the_newest_window_and_every_target() -> None:
    from streamrec.recommenders.sasrec_jax import windows

    sequences = [np.arange(23), np.arange(100, 103), np.arange(200, 250)]
    plain_in, plain_out = windows(sequences, 8)
    rng = np.random.default_rng(0)
    cut = [windows(sequences, 8, rng) for _ in range(5)]
    for inputs, targets in cut:
        # every event but a sequence's first is still a target (some twice, where windows overlap)
        assert set(_targets_of(targets)) == set(_targets_of(plain_out))
        # the newest window of each sequence (what serving reads) is the same
        np.testing.assert_array_equal(inputs[0], plain_in[0])
        for row_in, row_out in zip(inputs, targets, strict=True):  # inputs lead targets by one
            real = row_in > 0
            np.testing.assert_array_equal(row_out[real][:-1], row_in[real][1:])
    assert any(not np.array_equal(inputs, cut[0][0]) for inputs, _ in cut[1:])


def test_tie_shuffling_reorders_only_events_of_one_timestamp() -> None:
    from streamrec.recommenders.sasrec_jax import shuffle_ties

    tied = np.arange(10)
    tied_ts = np.array([0, 1, 1, 1, 1, 2, 3, 3, 3, 4], np.float64)
    untied = np.arange(100, 105)
    rng = np.random.default_rng(0)
    seen: set[tuple[int, ...]] = set()
    for _ in range(20):
        out, same = shuffle_ties([tied, untied], [tied_ts, np.arange(5.0)], rng)
        np.testing.assert_array_equal(same, untied)
        # every event stays within its own second: the runs {1..4} and {6, 7, 8} move inside
        for second in np.unique(tied_ts):
            assert set(out[tied_ts == second]) == set(tied[tied_ts == second])
        seen.add(tuple(int(x) for x in out))
    assert len(seen) > 5  # the order inside each run changes from call to call
    np.testing.assert_array_equal(tied, np.arange(10))  # the input is left as it was
