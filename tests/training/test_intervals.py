from __future__ import annotations

import numpy as np
import pytest

from streamrec.training.intervals import (
    Interval,
    bootstrap_intervals,
    paired_intervals,
    per_user_gains,
)
from streamrec.training.metrics import ranking_metrics


def recommendations(n_users: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    recs = np.stack([rng.permutation(50)[:10] for _ in range(n_users)])
    return recs, rng.integers(-1, 50, size=n_users)


def test_values_are_the_plain_metrics() -> None:
    recs, targets = recommendations(300, 1)
    intervals = bootstrap_intervals(recs, targets, seed=3)
    plain = ranking_metrics(recs, targets, 50)
    for name in ("hr@10", "ndcg@10", "mrr@10"):
        assert intervals[name].value == pytest.approx(plain[name])
        assert intervals[name].low <= intervals[name].value <= intervals[name].high


def test_seeded_and_narrowing_with_more_users() -> None:
    small = bootstrap_intervals(*recommendations(100, 2), seed=5)
    again = bootstrap_intervals(*recommendations(100, 2), seed=5)
    large = bootstrap_intervals(*recommendations(5000, 2), seed=5)
    assert small == again
    width = {k: v.high - v.low for k, v in small.items()}
    assert all(large[k].high - large[k].low < width[k] for k in width)


def test_interval_matches_the_normal_approximation() -> None:
    # a hit rate p over n users: the 95% interval is about p +- 1.96 sqrt(p(1-p)/n)
    recs = np.tile(np.arange(10), (2000, 1))
    targets = np.where(np.arange(2000) % 4 == 0, 3, 99)  # p = 0.25
    hr = bootstrap_intervals(recs, targets, seed=0)["hr@10"]
    half = 1.96 * np.sqrt(0.25 * 0.75 / 2000)
    assert hr.value == pytest.approx(0.25)
    assert hr.low == pytest.approx(0.25 - half, abs=0.006)
    assert hr.high == pytest.approx(0.25 + half, abs=0.006)


def test_gains_per_user() -> None:
    recs = np.array([[4, 5, 6], [1, 2, 3], [7, 8, 9]])
    gains = per_user_gains(recs, np.array([5, 0, -1]))
    assert gains["hr@3"].tolist() == [1.0, 0.0, 0.0]
    assert gains["ndcg@3"][0] == pytest.approx(1 / np.log2(3))
    assert gains["mrr@3"].tolist() == [0.5, 0.0, 0.0]


def test_no_users() -> None:
    out = bootstrap_intervals(np.zeros((0, 10), np.int64), np.zeros(0, np.int64))
    assert out["hr@10"].value == 0.0


def test_a_paired_interval_is_narrower_than_the_difference_of_two() -> None:
    recs, targets = recommendations(1000, 4)
    # a second list that hits where the first does, and a few more users besides
    better = recs.copy()
    extra = np.flatnonzero(targets >= 0)[::40]
    better[extra, 0] = targets[extra]
    diff = paired_intervals(better, recs, targets, seed=1)
    one, two = bootstrap_intervals(recs, targets, 1), bootstrap_intervals(better, targets, 1)
    assert diff["hr@10"].value == pytest.approx(two["hr@10"].value - one["hr@10"].value)
    assert diff["hr@10"].low > 0  # every change is a gain: the paired interval excludes 0
    assert one["hr@10"].high > two["hr@10"].low  # while the two intervals overlap
    assert paired_intervals(recs, recs, targets)["ndcg@10"] == Interval(0.0, 0.0, 0.0)


def test_paired_lists_must_have_the_same_length() -> None:
    recs, targets = recommendations(50, 5)
    with pytest.raises(ValueError, match="differ in length"):
        paired_intervals(recs, recs[:, :5], targets)
