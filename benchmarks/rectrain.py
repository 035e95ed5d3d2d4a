"""Fit time of each recipe on a lake, in its own process: ``python -m benchmarks.rectrain SPEC OUT``.

The child reads the lake once (timed, as ``streamrec train`` does), encodes it once, then fits
each recipe ``reps`` times on every event with the settings' event-type weights and the recipe
parameters ``streamrec train`` would pass (``recipe_params``). Only ``model.fit`` is timed: the
hold-out evaluation that ``streamrec train`` also runs is the same ranking work for every recipe
and is reported separately from the cached ``streamrec train`` run.

A recipe that refuses the data (EASE above ``ease_max_items``) is recorded with its error; EASE is
then fitted on the events of the ``ease_subset_items`` most frequent items, and the result says
so. A recipe whose first fit took longer than ``slow_s`` is not repeated, to keep the run short.
"""

from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from threadpoolctl import threadpool_info

from streamrec.config import Settings
from streamrec.errors import ModelError
from streamrec.lake.reader import LakeReader
from streamrec.models.train import recipe_params
from streamrec.recommenders.data import EventWeights, Interactions
from streamrec.recommenders.registry import create
from streamrec.training.interactions import encode_events

__all__ = ["TrainSpec", "run"]


@dataclasses.dataclass(frozen=True)
class TrainSpec:
    data_dir: str
    recipes: tuple[str, ...]
    reps: int
    slow_s: float = 60.0  # do not repeat a fit that took longer than this
    ease_subset_items: int = 20_000


def fit_seconds(recipe: str, params: dict[str, Any], interactions: Interactions) -> float:
    model = create(recipe, **params)
    started = time.perf_counter()
    model.fit(interactions)
    return time.perf_counter() - started


def repeat_fit(
    recipe: str, params: dict[str, Any], interactions: Interactions, spec: TrainSpec
) -> list[float]:
    times = [fit_seconds(recipe, params, interactions)]
    while len(times) < spec.reps and times[0] <= spec.slow_s:
        times.append(fit_seconds(recipe, params, interactions))
    return times


def top_items_subset(table: pa.Table, n_items: int) -> pa.Table:
    """The events of the ``n_items`` items with the most events."""
    counts = pc.value_counts(table.column("item_id")).flatten()
    values, freq = counts[0], counts[1].to_numpy()
    keep = values.take(pa.array(np.argsort(-freq, kind="stable")[:n_items]))
    return table.filter(pc.is_in(table.column("item_id"), value_set=keep))


def run(spec: TrainSpec) -> dict[str, Any]:
    settings = Settings(data_dir=Path(spec.data_dir))
    started = time.perf_counter()
    table = LakeReader(settings.lake_location).read_interactions()
    read_s = time.perf_counter() - started
    weights = EventWeights(dict(settings.event_type_weights))
    started = time.perf_counter()
    encoded = encode_events(table)
    interactions = encoded.interactions(weights)
    result: dict[str, Any] = {
        "read_s": read_s,
        "encode_s": time.perf_counter() - started,
        "events": len(table),
        "items": len(encoded.items),
        "users": len(encoded.users),
        "blas": [(i.get("internal_api"), i.get("num_threads")) for i in threadpool_info()],
        "fits": {},
    }
    for recipe in spec.recipes:
        result["fits"][recipe] = fit_recipe(recipe, settings, table, interactions, weights, spec)
    return result


def fit_recipe(
    recipe: str,
    settings: Settings,
    table: pa.Table,
    interactions: Interactions,
    weights: EventWeights,
    spec: TrainSpec,
) -> dict[str, Any]:
    params = recipe_params(settings, recipe)
    try:
        return {"seconds": repeat_fit(recipe, params, interactions, spec)}
    except ModelError as exc:
        if recipe != "ease":
            raise
        refusal = str(exc)
    subset = top_items_subset(table, spec.ease_subset_items)
    sub = encode_events(subset).interactions(weights)
    return {
        "seconds": repeat_fit(recipe, params, sub, spec),
        "refused": refusal,
        "subset": {"items": sub.n_items, "events": len(subset)},
    }


def main(argv: list[str]) -> None:
    raw = json.loads(argv[0])
    spec = TrainSpec(**{**raw, "recipes": tuple(raw["recipes"])})
    Path(argv[1]).write_text(json.dumps(run(spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
