"""The default recipe's tuning: recent-window prior, small-data fallback, large-data shortcuts,
the coordinate search over the blend."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import cast

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.recommenders import Hybrid, Interactions, UserHistory
from streamrec.recommenders import hybrid as hybrid_module
from streamrec.recommenders.popularity import decayed_counts, window_counts
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events

DAY = 86_400.0


def _tiny_shop() -> Interactions:
    """12 users over 30 days: item 0 was the hit a month ago, item 1 is the hit this week."""
    rng = np.random.default_rng(3)
    users, items, times = [], [], []
    for user in range(12):
        old = user < 6  # half the users shopped a month ago, half this week
        start = 0.0 if old else 27 * DAY
        hit = 0 if old else 1
        basket = [hit, *rng.choice(np.arange(2, 40), size=3, replace=False).tolist()]
        for step, item in enumerate(basket):
            users.append(user)
            items.append(item)
            times.append(start + step * 60.0 + user)
    for extra in range(4):  # item 0 stays the all-time favourite
        users.append(extra)
        items.append(0)
        times.append(DAY + extra)
    return Interactions.build(np.array(users), np.array(items), np.array(times))


def test_tiny_data_falls_back_to_the_recent_window_prior() -> None:
    model = Hybrid()
    model.fit(_tiny_shop())
    assert model.metadata["tuning"].startswith("prior fallback")
    assert model.config.prior == "window"
    # at most 12 validation cases of the 50 needed: the prior weighs at least 50 / 12
    assert model.config.popularity_weight >= 50 / 12
    ids, _ = model.recommend([UserHistory.of([30])], n=3)
    assert ids[0][0] == 1  # this week's hit leads, not the all-time favourite


def test_enough_validation_users_tune_on_validation() -> None:
    events = encode_events(generate_interactions(n_users=300, n_items=200, n_events=6_000, seed=1))
    model = Hybrid()
    model.fit(events.interactions())
    assert model.metadata["tuning"].startswith("validation")
    assert model.metadata["validation_ndcg@10"] > 0
    assert model.config.prior in ("window", "decayed")
    assert model.config.tune is False


def test_large_data_tunes_on_a_sample_with_the_coarse_grid(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(hybrid_module, "_LARGE_EVENTS", 1_000)
    monkeypatch.setattr(hybrid_module, "_LARGE_VALIDATION_USERS", 60)
    events = encode_events(generate_interactions(n_users=300, n_items=200, n_events=6_000, seed=2))
    model = Hybrid()
    model.fit(events.interactions())
    grid = hybrid_module._COARSE_GRID
    # 60 sampled per fold; a case whose target the user already bought is dropped (serving
    # excludes it)
    assert model.metadata["tuning"].startswith("validation (")
    cases, folds = model.metadata["tuning"].removeprefix("validation (").split(" cases, ")
    assert folds == "2 folds)" and 100 <= int(cases) <= 120
    assert model.config.half_life_events in grid.half_lives
    assert model.config.transition_weight in grid.transition_weights
    assert model.config.popularity_weight in grid.popularity_weights


def test_untuned_model_keeps_its_configured_prior() -> None:
    model = Hybrid(tune=False, prior="window", popularity_weight=0.5)
    model.fit(_tiny_shop())
    assert "tuning" not in model.metadata
    assert (model.config.prior, model.config.popularity_weight) == ("window", 0.5)


def test_validation_cases_the_model_cannot_reach_are_not_evidence() -> None:
    """60 users whose last items are all brand new: 60 validation users, none informative."""
    users = np.repeat(np.arange(60), 4)
    items = np.tile([0, 1, 2, 0], 60)
    items[3::4] = 3 + np.arange(60)  # each user's last item occurs nowhere else
    model = Hybrid()
    model.fit(Interactions.build(users, items, np.arange(users.size, dtype=np.float64)))
    assert model.metadata["tuning"] == "prior fallback (0 reachable validation cases)"
    assert model.config.popularity_weight == pytest.approx(1_000.0)  # tie-breaking only


@settings(max_examples=40, deadline=None)
@given(
    times=st.lists(st.floats(0.0, 100 * DAY), min_size=1, max_size=60),
    window=st.floats(1.0, 200 * DAY),
    seed=st.integers(0, 1_000),
)
def test_window_counts_count_exactly_the_recent_events(
    times: list[float], window: float, seed: int
) -> None:
    rng = np.random.default_rng(seed)
    ts = np.array(times)
    items = rng.integers(0, 5, ts.size)
    weights = rng.uniform(0.5, 5.0, ts.size)
    inter = Interactions.build(items * 0, items, ts, weights, n_items=5)
    counts = window_counts(inter, window)
    recent = ts > ts.max() - window
    expected = np.bincount(items[recent], weights=weights[recent], minlength=5)
    np.testing.assert_allclose(counts, expected, rtol=1e-5)
    if window > np.ptp(ts):  # a window longer than the data is plain popularity
        np.testing.assert_allclose(counts, decayed_counts(inter, None, True), rtol=1e-5)


def test_tiny_session_data_still_brings_back_the_users_own_items() -> None:
    """Too little data to tune, but sessions that keep going back to what they viewed: the
    fallback puts an own item whose (calibrated) repeat chance beats the top item's share of
    events ahead of the popular items."""
    users, items, times = [], [], []
    for user in range(10):
        own = [10 + 2 * user, 11 + 2 * user]
        for step, item in enumerate([0, *own, *own, *own]):  # item 0: everyone's first click
            users.append(user)
            items.append(item)
            times.append(user * DAY + step * 60.0)
    model = Hybrid()
    model.fit(Interactions.build(np.array(users), np.array(items), np.array(times)))
    assert model.metadata["tuning"].startswith("prior fallback")
    assert model.config.repeat_weight > 0
    history = UserHistory.of([28, 29, 28], timestamps=[0.0, 60.0, 120.0])
    ranked = np.argsort(-model.score([history])[0], kind="stable").tolist()
    # these sessions alternate: after 28 comes 29, which beats the popular item 0
    assert ranked[0] == 29 and ranked.index(29) < ranked.index(0)


@dataclass(frozen=True)
class _Cases:
    targets: np.ndarray


@dataclass(frozen=True)
class _TableFold:
    """A validation fold whose every case scores ``table[(transition, repeat weight)]``."""

    table: dict[tuple[float, float], float]
    val: _Cases = field(default_factory=lambda: _Cases(np.zeros(40, np.int64)))
    repeat: np.ndarray = field(default_factory=lambda: np.ones(1))
    stream: np.ndarray = field(default_factory=lambda: np.zeros(1))
    sequence: np.ndarray | None = None

    def gains(self, cfg: hybrid_module.HybridConfig) -> np.ndarray:
        value = self.table.get((cfg.transition_weight, cfg.repeat_weight), 0.0)
        return np.full(self.val.targets.size, value)


def test_the_search_revisits_a_weight_once_the_others_have_moved() -> None:
    """Without repeat scores the transitions must do their work (10 wins), next to them the
    largest repeat weight wins, next to that a light transition weight wins, and next to that
    a moderate repeat weight is best of all: a single coordinate pass stops at (1, 256)."""
    table = {(10.0, 0.0): 0.30, (1.0, 0.0): 0.20, (10.0, 64.0): 0.35, (10.0, 256.0): 0.40,
             (1.0, 256.0): 0.45, (1.0, 64.0): 0.50}  # fmt: skip
    grid = hybrid_module._Grid((None,), (1.0, 10.0), (0.05,), (0.0, 64.0, 256.0), (0.0,))
    model = Hybrid()
    folds = cast(list[hybrid_module._Fold], [_TableFold(table)])
    best = hybrid_module._GridSearch(model, folds).run(grid)
    assert (best.transition_weight, best.repeat_weight) == (1.0, 64.0)
    assert model.metadata["validation_ndcg@10"] == pytest.approx(0.50)
    assert model.metadata["tuning_passes"] == 3  # (1, 256), then (1, 64), then no change


def test_the_search_stops_after_a_pass_that_changes_nothing() -> None:
    table = {(1.0, 0.0): 0.30, (1.0, 64.0): 0.40}
    grid = hybrid_module._Grid((None,), (1.0, 10.0), (0.05,), (0.0, 64.0, 256.0), (0.0,))
    model = Hybrid()
    folds = cast(list[hybrid_module._Fold], [_TableFold(table)])
    best = hybrid_module._GridSearch(model, folds).run(grid)
    assert (best.transition_weight, best.repeat_weight) == (1.0, 64.0)
    assert model.metadata["tuning_passes"] == 2
