"""The training job: from a lake of synthetic events to a saved, evaluated, optionally active version."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pyarrow as pa
import pytest

from streamrec.config import Settings
from streamrec.errors import ConfigError, ModelError
from streamrec.models.registry import ModelRegistry
from streamrec.models.train import recipe_params, resolve_recipe, train
from streamrec.recommenders import DEFAULT_RECIPE
from streamrec.runtime import Runtime
from tests.factories import make_event
from tests.models.conftest import fill_lake


def test_train_from_the_lake_saves_an_evaluated_version(
    settings: Settings, registry: ModelRegistry, events_table: pa.Table
) -> None:
    fill_lake(settings, events_table)
    meta = train(settings, "item-knn", activate=False, registry=registry)
    assert meta["recipe"] == "item-knn" and meta["n_events"] == len(events_table)
    assert set(meta["metrics"]) == {"hr@10", "ndcg@10", "mrr@10", "coverage"}
    assert 0.0 < meta["metrics"]["ndcg@10"] <= meta["metrics"]["hr@10"] <= 1.0
    assert meta["evaluation"]["n_test_users"] > 0
    assert meta["n_items"] == 40 and meta["train_time_s"] >= 0
    assert registry.campaigns() == {}
    loaded = registry.load(meta["version"])
    assert loaded.model.item_vocab is not None and len(loaded.model.item_vocab) == 40


def test_train_and_activate_points_the_campaign(
    settings: Settings, registry: ModelRegistry, events_table: pa.Table
) -> None:
    fill_lake(settings, events_table)
    meta = train(settings, "popularity", activate=True, registry=registry)
    assert registry.campaign_version("default") == meta["version"]
    active = registry.active("default")
    assert active is not None and active.recipe == "popularity"


def test_events_sent_through_the_stream_train_a_model(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", lake_flush_bytes=1)  # every batch is flushed
    runtime = Runtime(settings)
    try:
        runtime.event_log.append(
            [make_event(f"u{u}", f"i{(u + k) % 7}", "click") for u in range(8) for k in range(4)]
        )
        runtime.make_runner("lake").drain()
        meta = train(settings, "item-knn", registry=runtime.models)
    finally:
        runtime.close()
    assert meta["n_events"] == 32 and meta["n_items"] == 7


def test_too_little_data_names_the_minimum(settings: Settings, registry: ModelRegistry) -> None:
    with pytest.raises(ModelError, match="at least 10 interactions"):
        train(settings, "item-knn", registry=registry)


def test_no_user_for_the_holdout_is_a_clear_error(
    settings: Settings, registry: ModelRegistry
) -> None:
    rows = pa.table({
        "user_id": [f"u{i}" for i in range(12)], "item_id": [f"i{i % 3}" for i in range(12)],
        "timestamp": [1.7e9 + i for i in range(12)], "event_type": ["view"] * 12,
        "session_id": ["s"] * 12,
    })  # fmt: skip
    fill_lake(settings, rows)
    with pytest.raises(ModelError, match="3 or more distinct items"):
        train(settings, "item-knn", registry=registry)


def test_recipe_resolution_and_parameters(settings: Settings) -> None:
    assert resolve_recipe(settings, None) == DEFAULT_RECIPE
    assert resolve_recipe(settings, "als") == "als"
    with pytest.raises(ConfigError, match="unknown recipe"):
        resolve_recipe(settings, "magic")
    small = dataclasses.replace(settings, ease_max_items=500, sequence_budget_s=60.0)
    assert recipe_params(small, "ease") == {"max_items": 500}
    assert recipe_params(small, "hybrid") == {
        "ease_max_items": 500,
        "excluded_types": ("purchase", "rating"),  # tuned to rank as serving ranks
        "max_history": 200,
        "sequence_budget_s": 60.0,  # the optional sequence term
        "sequence_members": 2,
    }
    assert recipe_params(small, "als") == {}
