"""An experiment's results per variant, from the per-user figures the ``attribution`` group
keeps (:mod:`streamrec.attribution.sink`), and the decision.

Per variant: users (those served at least one recommendation in it), recommendations,
conversions (events of the experiment's metric type attributed to it; for ``revenue``:
purchases), conversion rate per user (the share of users with at least one), revenue and revenue
per user. The metric compared is the conversion rate per user for ``click`` and ``purchase``,
revenue per user for ``revenue``; each variant against the control with the always-valid mSPRT
(:mod:`streamrec.experiments.stats`).

Decision rule: a variant whose difference to the control is significant (always-valid p <= 0.05)
and positive wins (the best such one); when every other variant is significantly worse, the
control wins; otherwise there is no winner yet. A sample-ratio mismatch is flagged, and while
it is, no winner is declared: the split itself is suspect.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict

from streamrec.attribution.sink import CONVERSION_PREFIX, RECOMMENDATIONS, REVENUE
from streamrec.attribution.store import AttributionStore
from streamrec.experiments.definition import Experiment
from streamrec.experiments.stats import ALPHA, Comparison, SampleRatio, msprt, sample_ratio

__all__ = ["ExperimentResults", "VariantResult", "experiment_results"]

TEST_NAME = "mSPRT (always-valid sequential test, normal mixture), alpha 0.05"


@dataclasses.dataclass
class VariantResult:
    name: str
    campaign: str
    share: float
    users: int
    recommendations: int
    conversions: int
    conversion_rate: float | None
    revenue: float
    revenue_per_user: float | None
    vs_control: Comparison | None = None


@dataclasses.dataclass
class ExperimentResults:
    metric: str
    control: str
    variants: list[VariantResult]
    sample_ratio: SampleRatio
    winner: str | None
    test: str = TEST_NAME
    alpha: float = ALPHA


def _outcomes(
    experiment: Experiment, store: AttributionStore
) -> dict[str, dict[str, dict[str, float]]]:
    """variant -> user -> metric -> value."""
    out: dict[str, dict[str, dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
    for variant, user, metric, value in store.per_user(experiment.name):
        out[variant][user][metric] = value
    return out


def _per_user(users: dict[str, dict[str, float]], metric: str) -> list[float]:
    if metric == "revenue":
        return [u.get(REVENUE, 0.0) for u in users.values()]
    kind = CONVERSION_PREFIX + metric
    return [1.0 if u.get(kind, 0.0) > 0 else 0.0 for u in users.values()]


def _summary(
    experiment: Experiment, name: str, users: dict[str, dict[str, float]]
) -> VariantResult:
    variant = experiment.variant(name)
    kind = CONVERSION_PREFIX + ("purchase" if experiment.metric == "revenue" else experiment.metric)
    n = len(users)
    revenue = sum(u.get(REVENUE, 0.0) for u in users.values())
    return VariantResult(
        name=name,
        campaign=variant.campaign if variant else "",
        share=variant.share if variant else 0.0,
        users=n,
        recommendations=int(sum(u.get(RECOMMENDATIONS, 0.0) for u in users.values())),
        conversions=int(sum(u.get(kind, 0.0) for u in users.values())),
        conversion_rate=sum(1 for u in users.values() if u.get(kind, 0.0) > 0) / n if n else None,
        revenue=revenue,
        revenue_per_user=revenue / n if n else None,
    )


def _winner(control: VariantResult, others: list[VariantResult]) -> str | None:
    better = [
        v
        for v in others
        if v.vs_control and v.vs_control.significant and v.vs_control.difference > 0
    ]
    if better:
        return max(better, key=lambda v: v.vs_control.difference if v.vs_control else 0.0).name
    worse = [
        v
        for v in others
        if v.vs_control and v.vs_control.significant and v.vs_control.difference < 0
    ]
    return control.name if others and len(worse) == len(others) else None


def experiment_results(experiment: Experiment, store: AttributionStore) -> ExperimentResults:
    outcomes = _outcomes(experiment, store)
    # only users that were served a recommendation count (a conversion alone cannot enrol)
    served = {
        v.name: {u: m for u, m in outcomes.get(v.name, {}).items() if m.get(RECOMMENDATIONS)}
        for v in experiment.variants
    }
    control = experiment.control
    results = [_summary(experiment, v.name, served[v.name]) for v in experiment.variants]
    baseline = _per_user(served[control.name], experiment.metric)
    for result in results:
        if result.name != control.name:
            result.vs_control = msprt(baseline, _per_user(served[result.name], experiment.metric))
    ratio = sample_ratio([r.users for r in results], [v.share for v in experiment.variants])
    head = next(r for r in results if r.name == control.name)
    others = [r for r in results if r.name != control.name]
    winner = None if ratio.mismatch else _winner(head, others)
    return ExperimentResults(experiment.metric, control.name, results, ratio, winner)
