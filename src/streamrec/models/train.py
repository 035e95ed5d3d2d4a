"""The training job: lake -> temporal hold-out evaluation -> fit on everything -> a new version.

The hold-out follows the evaluate protocol (EVALUATION.md): each user's last new item is held out,
the model is fitted on the rest and ranks the whole catalogue; HR@10 and NDCG@10 of that run are
the version's offline metrics, which the champion/challenger rule compares. The served model is
then fitted again on *all* events, so nothing recent is thrown away.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping
from typing import Any

import pyarrow as pa

from streamrec.config import Settings
from streamrec.errors import ModelError
from streamrec.event_thresholds import EventThresholds
from streamrec.lake.reader import LakeReader
from streamrec.models.registry import ModelRegistry
from streamrec.recommenders.base import MIN_INTERACTIONS, Recommender
from streamrec.recommenders.data import EventWeights
from streamrec.recommenders.registry import DEFAULT_RECIPE, create, recipe_class
from streamrec.training.evaluate import evaluate_recipe, prepare
from streamrec.training.interactions import encode_events

__all__ = ["MIN_TEST_USERS", "K", "recipe_params", "resolve_recipe", "train", "train_on_table"]

log = logging.getLogger(__name__)

K = 10
MIN_TEST_USERS = 1  # the hold-out needs users with at least 3 distinct items


def resolve_recipe(settings: Settings, recipe: str | None) -> str:
    """The recipe to train: the argument, else the setting; "default" is the measured default."""
    name = recipe or settings.recipe
    name = DEFAULT_RECIPE if name == "default" else name
    recipe_class(name)  # ConfigError naming the known recipes
    return name


def recipe_params(settings: Settings, recipe: str) -> dict[str, Any]:
    """Settings that apply to a recipe: the EASE catalogue cap (and the hybrid's, if lower),
    the hybrid's sequence term (budget and members), and how serving ranks (the event types it never recommends again, the events it folds in),
    so that a recipe tuning itself on validation ranks the way it will be served."""
    config = create(recipe).config
    fields = {f.name for f in dataclasses.fields(config)}
    params: dict[str, Any] = {}
    if "max_items" in fields:
        params["max_items"] = settings.ease_max_items
    if "ease_max_items" in fields:
        params["ease_max_items"] = min(settings.ease_max_items, int(config.ease_max_items))
    if "excluded_types" in fields:
        params["excluded_types"] = tuple(settings.exclude_seen_event_types)
    if "max_history" in fields:
        params["max_history"] = settings.user_state_max_events
    if "sequence_budget_s" in fields:
        params["sequence_budget_s"] = settings.sequence_budget_s
        params["sequence_members"] = settings.sequence_members
    return params


def train(
    settings: Settings,
    recipe: str | None = None,
    activate: bool = False,
    registry: ModelRegistry | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Train ``recipe`` on the whole lake, save a version, optionally point the campaign at it.
    ``params`` override the recipe's defaults (e.g. ``{"tune": True}``).

    Returns the version's metadata. ModelError when the lake holds too little data."""
    started = time.perf_counter()
    table = LakeReader(settings.lake_location).read_interactions()
    read_s = time.perf_counter() - started
    registry = registry or ModelRegistry(settings)
    metadata = train_on_table(
        settings, table, recipe, registry, extra={"read_time_s": read_s}, params=params
    )
    if activate:
        registry.set_campaign(settings.campaign, metadata["version"])
        metadata["activated"] = settings.campaign
    return metadata


def train_on_table(
    settings: Settings,
    table: pa.Table,
    recipe: str | None,
    registry: ModelRegistry,
    extra: dict[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Evaluate on the hold-out, fit on all of ``table``, save; the version's metadata."""
    name = resolve_recipe(settings, recipe)
    table = EventThresholds(settings.event_value_thresholds).filter_table(table)
    check_enough_events(table)
    started = time.perf_counter()
    weights = EventWeights(dict(settings.event_type_weights))
    params = recipe_params(settings, name) | dict(params or {})
    holdout = prepare(table, weights)
    if holdout.test_users.size < MIN_TEST_USERS:
        raise ModelError(
            f"training needs at least {MIN_TEST_USERS} user with 3 or more distinct items for the "
            f"hold-out evaluation; the lake has none among {len(table)} events"
        )
    result = evaluate_recipe(holdout, name, k=K, params=params)
    if result.error is not None:
        raise ModelError(f"hold-out evaluation of {name} failed: {result.error}")
    model = fit_all(table, name, params, weights)
    info = {
        "metrics": result.metrics,
        "evaluation": {"protocol": "leave-last-out", "k": K, "n_test_users": result.n_test_users,
                       "train_time_s": round(result.train_time_s, 4)},
        "n_events": len(table),
        "event_type_weights": dict(settings.event_type_weights),
        "event_value_thresholds": dict(settings.event_value_thresholds),
        "job_time_s": round(time.perf_counter() - started, 4),
        **(extra or {}),
    }  # fmt: skip
    version = registry.save(model, info)
    log.info("trained %s version %s: %s", name, version, _format_metrics(result.metrics))
    return registry.metadata(version)


def check_enough_events(table: pa.Table) -> None:
    if len(table) < MIN_INTERACTIONS:
        raise ModelError(
            f"training needs at least {MIN_INTERACTIONS} interactions in the lake; it has "
            f"{len(table)} (send events, and wait for the lake to flush or run the lake consumer)"
        )


def fit_all(
    table: pa.Table, recipe: str, params: dict[str, Any], weights: EventWeights
) -> Recommender:
    """The served model: fitted on every event, with the item vocabulary attached."""
    encoded = encode_events(table)
    model = create(recipe, **params)
    model.fit(encoded.interactions(weights))
    model.item_vocab = encoded.items
    return model


def _format_metrics(metrics: dict[str, float]) -> str:
    return ", ".join(f"{k}={v:.4f}" for k, v in metrics.items())
