"""The statistics of experiment results: an always-valid sequential test (mSPRT) of the
difference in a per-user metric between a variant and the control, and the sample-ratio check.

**mSPRT** (Johari, Pekelis, Walsh, "Always valid inference", 2017): with the difference of means
``d`` and its variance ``V = s_a²/n_a + s_b²/n_b`` (normal approximation), a normal mixture
``N(0, τ²)`` over the true difference gives the likelihood ratio

    Λ = sqrt(V / (V + τ²)) · exp(d² τ² / (2 V (V + τ²)))

Under "no difference" Λ is a martingale, so by Ville's inequality the chance that
``1/Λ <= alpha`` *at any look* is at most alpha: the p-value ``min(1, 1/Λ)`` and the interval
``d ± sqrt(V (V + τ²) / τ² · (2 ln(1/alpha) + ln((V + τ²) / V)))`` (every difference the test would
not reject) stay valid however often the operator looks. The price is width: they are wider
than the fixed-horizon t-interval. ``τ`` is a tenth of the pooled per-user standard deviation
(``TAU_SD``): the test is most sensitive to effects of about that size. No library offers the
mSPRT; it is written here. The sample-ratio check is scipy's chi-square test.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

__all__ = ["ALPHA", "SRM_ALPHA", "Comparison", "SampleRatio", "msprt", "sample_ratio"]

ALPHA = 0.05
TAU_SD = 0.1
SRM_ALPHA = 0.001  # the usual threshold: a mismatch is a bug, not noise
SRM_MIN_USERS = 20


@dataclasses.dataclass(frozen=True)
class Comparison:
    """A variant against the control: difference of means (variant - control), its always-valid
    95% interval (None while the data cannot bound it) and p-value."""

    difference: float
    low: float | None
    high: float | None
    p_value: float
    significant: bool


def msprt(control: Sequence[float], variant: Sequence[float], alpha: float = ALPHA) -> Comparison:
    """The mSPRT of the module docstring on per-user outcomes (0/1 or amounts)."""
    a = np.asarray(control, dtype=np.float64)
    b = np.asarray(variant, dtype=np.float64)
    difference = float(b.mean() - a.mean()) if a.size and b.size else 0.0
    if a.size < 2 or b.size < 2:
        return Comparison(difference, None, None, 1.0, False)
    var_a, var_b = float(a.var(ddof=1)), float(b.var(ddof=1))
    v = var_a / a.size + var_b / b.size
    tau2 = TAU_SD**2 * (var_a + var_b) / 2
    if v <= 0 or tau2 <= 0:
        return Comparison(difference, None, None, 1.0, False)
    log_lr = 0.5 * math.log(v / (v + tau2)) + difference**2 * tau2 / (2 * v * (v + tau2))
    p_value = min(1.0, math.exp(-log_lr))
    half = math.sqrt(v * (v + tau2) / tau2 * (2 * math.log(1 / alpha) + math.log((v + tau2) / v)))
    return Comparison(difference, difference - half, difference + half, p_value, p_value <= alpha)


@dataclasses.dataclass(frozen=True)
class SampleRatio:
    """Whether the users per variant differ from the configured shares more than chance
    allows (chi-square goodness of fit, flagged below ``SRM_ALPHA``)."""

    p_value: float | None
    mismatch: bool


def sample_ratio(users: Sequence[int], shares: Sequence[float]) -> SampleRatio:
    total = sum(users)
    if total < SRM_MIN_USERS:
        return SampleRatio(None, False)
    expected = [total * share / sum(shares) for share in shares]
    p_value = float(stats.chisquare(list(users), expected).pvalue)
    return SampleRatio(p_value, p_value < SRM_ALPHA)
