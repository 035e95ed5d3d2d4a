"""The offline evaluation job: temporal leave-last-out with full ranking (EVALUATION.md).

1. order by timestamp (stable), keep each (user, item) pair's first occurrence;
2. users with >= 3 distinct items: last item is the target, the rest trains;
3. rank every item known to training except the user's training items, top k;
4. HR@k, NDCG@k, MRR@k; a target unknown to training is a miss.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa

from streamrec.errors import StreamrecError
from streamrec.recommenders.data import EventWeights, HistoryBatch, Interactions
from streamrec.recommenders.registry import create
from streamrec.training.interactions import encode_events
from streamrec.training.metrics import ranking_metrics
from streamrec.training.splits import leave_last_out_split

__all__ = ["EvaluationResult", "ProtocolData", "evaluate", "evaluate_recipe", "prepare"]


@dataclass(frozen=True)
class ProtocolData:
    """Training interactions (items re-indexed to those known to training) and test cases."""

    train: Interactions
    test_users: np.ndarray  # user indices into train
    targets: np.ndarray  # item index in train's space, -1 when unknown to training
    n_events: int


@dataclass
class EvaluationResult:
    recipe: str
    metrics: dict[str, float] = field(default_factory=dict)
    train_time_s: float = 0.0
    eval_time_s: float = 0.0
    n_test_users: int = 0
    error: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)  # what the model says of its fit


def prepare(table: pa.Table, weights: EventWeights | None = None) -> ProtocolData:
    """Steps 1-2 of the protocol on an event table."""
    ev = encode_events(table)
    split = leave_last_out_split(ev.user, ev.item, ev.timestamp)
    mask = split.train_mask
    train_items = np.unique(ev.item[mask])
    remap = np.full(len(ev.items), -1, dtype=np.int64)
    remap[train_items] = np.arange(train_items.size)
    w = (weights or EventWeights()).of(ev.event_type[mask])
    train = Interactions.build(
        ev.user[mask], remap[ev.item[mask]], ev.timestamp[mask], w, ev.event_type[mask],
        len(ev.users), int(train_items.size),
    )  # fmt: skip
    return ProtocolData(train, split.test_users, remap[split.test_items], len(table))


def test_histories(data: ProtocolData) -> HistoryBatch:
    """Each test user's training events, oldest first: what serving would hold for them."""
    return data.train.histories().take_rows(data.test_users)


def evaluate_recipe(
    data: ProtocolData, recipe: str, k: int = 10, params: dict[str, Any] | None = None
) -> EvaluationResult:
    """Steps 3-4 for one recipe; a recipe that refuses the data is reported, not raised."""
    result = EvaluationResult(recipe, n_test_users=int(data.test_users.size))
    try:
        model = create(recipe, **(params or {}))
        started = time.perf_counter()
        model.fit(data.train)
        result.train_time_s = time.perf_counter() - started
        started = time.perf_counter()
        recs, _ = model.recommend(test_histories(data), n=k, exclude_seen=True)
        result.eval_time_s = time.perf_counter() - started
    except StreamrecError as exc:
        result.error = str(exc)
        return result
    result.metrics = ranking_metrics(recs, data.targets, data.train.n_items)
    result.params = model.params()
    result.metadata = dict(model.metadata)
    return result


def evaluate(
    table: pa.Table,
    recipes: Sequence[str],
    k: int = 10,
    weights: EventWeights | None = None,
) -> list[EvaluationResult]:
    """The whole protocol for each recipe on one event table."""
    data = prepare(table, weights)
    return [evaluate_recipe(data, r, k) for r in recipes]
