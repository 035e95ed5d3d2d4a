"""Parameter search for single recipes on a validation split of their own training data.

The split is the hybrid's (and the evaluation protocol's, one step earlier): each user's last new
item of the training events is a validation target, the rest is fitted. Candidates are compared
by NDCG@10 of those targets over the full catalogue, so a recipe reported as "tuned" was chosen
the same way as the default, never on test data ("On the Difficulty of Evaluating Baselines").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions

__all__ = ["Validation", "coordinate_search", "grid_search", "validation_ndcg", "validation_split"]

K = 10
MIN_VALIDATION_CASES = 50  # below this one hit moves NDCG by > 2%: too noisy to choose
MAX_VALIDATION_USERS = 3_000
Factory = Callable[[Mapping[str, Any]], Recommender]


@dataclass(frozen=True)
class Validation:
    fit: Interactions  # what candidates are trained on
    users: np.ndarray  # validation users (indices into fit)
    targets: np.ndarray  # each one's held-out item

    def histories(self) -> HistoryBatch:
        """The validation users' fitted events, oldest first (fresh arrays on every call, so a
        candidate that writes into its input cannot disturb the next one)."""
        return self.fit.histories().take_rows(self.users)  # fancy indexing: fresh arrays


def validation_split(
    interactions: Interactions, max_users: int = MAX_VALIDATION_USERS, seed: int = 0
) -> Validation | None:
    """Each user's last new item held out (at most ``max_users`` users, sampled with ``seed``);
    None when fewer than MIN_VALIDATION_CASES targets are items the fitted part contains."""
    from streamrec.training.splits import leave_last_out_split

    split = leave_last_out_split(interactions.user, interactions.item, interactions.timestamp)
    fit = interactions.subset(split.train_mask)
    known = np.bincount(fit.item, minlength=interactions.n_items) > 0
    reachable = known[split.test_items]
    users, targets = split.test_users[reachable], split.test_items[reachable]
    if users.size < MIN_VALIDATION_CASES:
        return None
    pick = np.sort(np.random.default_rng(seed).permutation(users.size)[:max_users])
    return Validation(fit, users[pick], targets[pick])


def validation_ndcg(model: Recommender, validation: Validation) -> float:
    """NDCG@10 of the validation targets, the user's fitted items excluded (the protocol)."""
    from threadpoolctl import threadpool_limits

    from streamrec.training.metrics import ndcg

    # many tiny products: a BLAS thread pool only oversubscribes the cores (15x slower for ALS)
    with threadpool_limits(1, "blas"):
        recs, _ = model.recommend(validation.histories(), n=K, exclude_seen=True)
    return ndcg(recs, validation.targets)


def _score(make: Factory, params: Mapping[str, Any], validation: Validation) -> float:
    model = make(params)
    model.fit(validation.fit)
    return validation_ndcg(model, validation)


def grid_search(
    make: Factory, candidates: Iterable[Mapping[str, Any]], validation: Validation
) -> tuple[dict[str, Any], float]:
    """The candidate with the best validation NDCG@10 (the first of equals) and that NDCG."""
    best: tuple[dict[str, Any], float] | None = None
    for params in candidates:
        value = _score(make, params, validation)
        if best is None or value > best[1]:
            best = (dict(params), value)
    if best is None:
        raise ValueError("grid_search needs at least one candidate")
    return best


def coordinate_search(
    make: Factory,
    start: Mapping[str, Any],
    axes: Mapping[str, Sequence[Any]],
    validation: Validation,
) -> tuple[dict[str, Any], float]:
    """One pass over the axes in order: each parameter in turn takes its best value with the
    others fixed at the best so far. Far fewer fits than the full grid (sum, not product)."""
    best = dict(start)
    best_value = _score(make, best, validation)
    for name, values in axes.items():
        others = [{**best, name: v} for v in values if v != best.get(name)]
        if not others:
            continue
        params, value = grid_search(make, others, validation)
        if value > best_value:
            best, best_value = params, value
    return best, best_value
