"""Automatic retraining: when it is due, and the champion/challenger rule."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.config import Settings
from streamrec.models.registry import ModelRegistry
from streamrec.models.retrain import (
    Retrainer,
    pending_request,
    request_retrain,
    should_activate,
)
from streamrec.recommenders import Recommender
from tests.models.conftest import fill_lake

scores = st.floats(min_value=0.0, max_value=1.0)


@given(scores, scores)
def test_challenger_wins_unless_strictly_worse(challenger: float, champion: float) -> None:
    assert should_activate(challenger, champion) == (challenger >= champion)


@given(scores)
def test_first_model_always_wins(challenger: float) -> None:
    assert should_activate(challenger, None)


def _version(registry: ModelRegistry, fitted: Callable[[str], Recommender], ndcg: float) -> dict:
    version = registry.save(fitted("item-knn"), {"metrics": {"ndcg@10": ndcg}})
    return registry.metadata(version)


def test_worse_challenger_keeps_the_champion_and_says_so(
    settings: Settings,
    registry: ModelRegistry,
    fitted: Callable[[str], Recommender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    champion = _version(registry, fitted, 0.30)
    registry.set_campaign("default", champion["version"])
    retrainer = Retrainer(settings, registry)
    with caplog.at_level(logging.INFO, logger="streamrec.models.retrain"):
        outcome = retrainer.decide(_version(registry, fitted, 0.29))
    assert not outcome.activated and outcome.champion == pytest.approx(0.30)
    assert registry.campaign_version("default") == champion["version"]
    assert "champion kept" in caplog.text


def test_equal_or_better_challenger_is_activated(
    settings: Settings,
    registry: ModelRegistry,
    fitted: Callable[[str], Recommender],
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry.set_campaign("default", _version(registry, fitted, 0.30)["version"])
    retrainer = Retrainer(settings, registry)
    equal = _version(registry, fitted, 0.30)
    with caplog.at_level(logging.INFO, logger="streamrec.models.retrain"):
        assert retrainer.decide(equal).activated
    assert registry.campaign_version("default") == equal["version"]
    assert "switched" in caplog.text


def test_due_after_interval_or_event_count(settings: Settings, registry: ModelRegistry) -> None:
    now = [0.0]
    events = [0]
    s = dataclasses.replace(settings, retrain_interval_s=60.0, retrain_after_events=100)
    retrainer = Retrainer(s, registry, lambda: events[0], clock=lambda: now[0])
    assert retrainer.enabled and not retrainer.due()
    events[0] = 99
    assert not retrainer.due()
    events[0] = 100
    assert retrainer.due()
    events[0] = 0
    now[0] = 60.0
    assert retrainer.due()
    off = Retrainer(settings, registry)
    assert not off.enabled and not off.due()


def test_run_once_trains_from_the_lake_and_activates_the_first_model(
    settings: Settings, registry: ModelRegistry, events_table: pa.Table
) -> None:
    fill_lake(settings, events_table)
    s = dataclasses.replace(settings, recipe="item-knn", retrain_interval_s=1.0)
    outcome = Retrainer(s, registry).run_once()
    assert outcome.activated and outcome.champion is None
    assert registry.campaign_version("default") == outcome.version
    again = Retrainer(s, registry).run_once()  # same data, same score: not worse, so it wins
    assert again.activated and again.challenger == pytest.approx(outcome.challenger)


def test_serve_process_retrains_in_a_thread(settings: Settings, events_table: pa.Table) -> None:
    from streamrec.runtime import Runtime

    fill_lake(settings, events_table)
    s = dataclasses.replace(settings, recipe="item-knn", retrain_interval_s=0.1)
    runtime = Runtime(s)
    try:
        runtime.start_maintenance()
        deadline = time.monotonic() + 10.0
        while runtime.models.campaign_version("default") is None:
            assert time.monotonic() < deadline, "no version activated by the retrain thread"
            time.sleep(0.05)
    finally:
        runtime.close()
    active = runtime.models.active("default")
    assert active is not None and active.recipe == "item-knn"


def test_champion_is_scored_on_the_challengers_hold_out(
    settings: Settings,
    registry: ModelRegistry,
    fitted: Callable[[str], Recommender],
    events_table: pa.Table,
) -> None:
    """A champion whose stored figure came from other data (0.99 here) is fitted again on the
    challenger's hold-out: the same recipe and parameters then score the same, so it is the
    models that are compared, not the data each was measured on."""
    fill_lake(settings, events_table)
    registry.set_campaign("default", _version(registry, fitted, 0.99)["version"])
    s = dataclasses.replace(settings, recipe="item-knn")
    outcome = Retrainer(s, registry).run_once()
    assert outcome.champion is not None and outcome.champion < 0.99
    assert outcome.champion == pytest.approx(outcome.challenger)
    assert outcome.activated


def test_an_erasure_request_makes_a_retrain_due_once_a_model_serves(
    settings: Settings, registry: ModelRegistry, fitted: Callable[[str], Recommender]
) -> None:
    now = [0.0]
    retrainer = Retrainer(settings, registry, clock=lambda: now[0])  # both settings off
    request_retrain(registry, now=100.0)
    assert pending_request(registry) == 100.0
    assert not retrainer.due()  # nothing served: nothing holds the erased user's events
    registry.set_campaign("default", _version(registry, fitted, 0.30)["version"])
    assert not retrainer.due()  # the request is read every REQUEST_CHECK_S, not every poll
    now[0] = 10.0
    assert retrainer.due()


def test_an_erasure_retrain_replaces_a_better_champion(
    settings: Settings, registry: ModelRegistry, fitted: Callable[[str], Recommender]
) -> None:
    """The champion was fitted with the erased user's events: it must go whatever the scores."""
    registry.set_campaign("default", _version(registry, fitted, 0.30)["version"])
    worse = _version(registry, fitted, 0.10)
    assert Retrainer(settings, registry).decide(worse, force=True).activated
    assert registry.campaign_version("default") == worse["version"]


def test_run_once_answers_the_requests_made_before_it_began(
    settings: Settings, registry: ModelRegistry, events_table: pa.Table
) -> None:
    fill_lake(settings, events_table)
    s = dataclasses.replace(settings, recipe="item-knn")
    request_retrain(registry)
    Retrainer(s, registry).run_once()
    assert pending_request(registry) is None
    request_retrain(registry, now=time.time() + 60.0)  # came in during or after that retrain
    assert pending_request(registry) is not None
    assert registry.campaigns() == {"default": registry.campaign_version("default")}
