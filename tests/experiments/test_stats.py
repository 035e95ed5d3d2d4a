"""The always-valid test and the sample-ratio check."""

from __future__ import annotations

import numpy as np

from streamrec.experiments.stats import msprt, sample_ratio


def test_a_clear_difference_is_significant_and_inside_the_interval() -> None:
    rng = np.random.default_rng(1)
    control = rng.binomial(1, 0.10, 4000).astype(float)
    variant = rng.binomial(1, 0.16, 4000).astype(float)
    result = msprt(control, variant)
    assert result.significant and result.p_value < 0.05
    assert result.low is not None and result.high is not None
    assert result.low < 0.06 < result.high and result.low > 0


def test_no_difference_rarely_rejects_even_when_looked_at_often() -> None:
    """Peeking after every 200 users of 4,000: a fixed-horizon test would reject far more
    often than 5% over 100 seeded runs; the always-valid test stays below it."""
    rejected = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        a = rng.binomial(1, 0.2, 4000).astype(float)
        b = rng.binomial(1, 0.2, 4000).astype(float)
        if any(msprt(a[:n], b[:n]).significant for n in range(200, 4001, 200)):
            rejected += 1
    assert rejected <= 5


def test_too_little_data_decides_nothing() -> None:
    result = msprt([1.0], [0.0, 1.0])
    assert (result.p_value, result.significant, result.low) == (1.0, False, None)
    assert msprt([0.0, 0.0], [0.0, 0.0]).p_value == 1.0


def test_sample_ratio_mismatch() -> None:
    assert sample_ratio([500, 500], [0.5, 0.5]).mismatch is False
    assert sample_ratio([600, 400], [0.5, 0.5]).mismatch is True
    assert sample_ratio([590, 410], [0.6, 0.4]).mismatch is False
    assert sample_ratio([5, 3], [0.5, 0.5]).p_value is None
