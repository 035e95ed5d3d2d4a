"""Automatic retraining with a champion/challenger rule.

A retrain is due when ``retrain_interval_s`` has passed since the last one, or when at least
``retrain_after_events`` events reached the stream since then (either setting may be 0: off).
The new version (the challenger) replaces the campaign's current one (the champion) only if its
offline NDCG@10 is not worse *on the same hold-out*: the champion's recipe, with the parameters
it was trained with, is fitted again on the challenger's hold-out training part and scored on the
same test users (the champion's own stored figure came from older data, so comparing it would
compare data, not models). The decision is logged either way, and the version is kept so it can
be inspected or activated by hand.

An erasure (:mod:`streamrec.erasure`) asks for a retrain with :func:`request_retrain`: a small
pointer (``campaigns/.retrain-request.json`` under ``model_location``, so a retraining job on
another host sees it) that the loop reads every ``REQUEST_CHECK_S``. While a request is newer than
the last retrain that began after it, a retrain is due even with both settings at 0 (when the
campaign serves a model at all), and its version is activated whatever its score: the champion
was fitted with the erased user's events. Trained models hold item-item statistics and no
per-user rows (users are folded in at serving time), so this is what removes the user's
contribution; until then serving goes on without a retrain.

It runs as a thread of ``streamrec serve`` (started by the Runtime) and as ``streamrec retrain``,
the retraining job of a cluster. A file lock in ``data_dir`` keeps two processes sharing a data
directory from training at the same time.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa

from streamrec.config import Settings
from streamrec.errors import ModelError, StreamrecError
from streamrec.event_thresholds import EventThresholds
from streamrec.lake.reader import LakeReader
from streamrec.locks import GroupLock
from streamrec.models.registry import ModelRegistry
from streamrec.models.train import K, train_on_table

__all__ = [
    "METRIC",
    "RetrainOutcome",
    "Retrainer",
    "should_activate",
    "start_retraining",
]

log = logging.getLogger(__name__)

METRIC = f"ndcg@{K}"
POLL_S = 1.0
REQUEST_CHECK_S = 10.0
REQUEST_POINTER = ".retrain-request.json"


def request_retrain(registry: ModelRegistry, now: float | None = None) -> None:
    """Ask the retraining loop for a retrain (see the module docstring)."""
    state = _request_state(registry)
    state["requested_at"] = time.time() if now is None else now
    registry.files.write_pointer(REQUEST_POINTER, json.dumps(state).encode())


def _request_state(registry: ModelRegistry) -> dict[str, float]:
    raw = registry.files.read_pointer(REQUEST_POINTER)
    try:
        found = json.loads(raw) if raw else {}
        return {k: float(v) for k, v in found.items() if k in ("requested_at", "handled_at")}
    except (ValueError, TypeError, AttributeError):
        return {}


def pending_request(registry: ModelRegistry) -> float | None:
    """The time of a retrain request no retrain has begun after, else None."""
    state = _request_state(registry)
    requested = state.get("requested_at")
    if requested is None or state.get("handled_at", -1.0) >= requested:
        return None
    return requested


def should_activate(challenger: float, champion: float | None) -> bool:
    """Champion/challenger: the challenger wins unless it is strictly worse (or nothing serves)."""
    return champion is None or challenger >= champion


@dataclass(frozen=True)
class RetrainOutcome:
    version: str
    activated: bool
    challenger: float
    champion: float | None
    champion_version: str | None


class Retrainer:
    """Decides when to retrain, trains, and applies the champion/challenger rule."""

    def __init__(
        self,
        settings: Settings,
        registry: ModelRegistry,
        events_seen: Callable[[], int] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self._events_seen = events_seen or (lambda: 0)
        self._clock = clock
        self._last_run = clock()
        self._events_at_last_run = self._events_seen()
        self._request_checked = -REQUEST_CHECK_S
        self._requested = False

    @property
    def enabled(self) -> bool:
        s = self.settings
        return s.retrain_interval_s > 0 or s.retrain_after_events > 0

    def requested(self) -> bool:
        """Whether an erasure asked for a retrain the served campaign needs (read every
        REQUEST_CHECK_S: on an object store each read is a request)."""
        if self._clock() - self._request_checked >= REQUEST_CHECK_S:
            self._request_checked = self._clock()
            self._requested = (
                pending_request(self.registry) is not None
                and self.registry.campaign_version(self.settings.campaign) is not None
            )
        return self._requested

    def due(self) -> bool:
        s = self.settings
        if self.requested():
            return True
        if s.retrain_interval_s > 0 and self._clock() - self._last_run >= s.retrain_interval_s:
            return True
        new_events = self._events_seen() - self._events_at_last_run
        return s.retrain_after_events > 0 and new_events >= s.retrain_after_events

    def run_once(self) -> RetrainOutcome:
        """Train a challenger now and activate it if it is not worse than the champion."""
        self._last_run = self._clock()
        self._events_at_last_run = self._events_seen()
        began = time.time()
        requested = pending_request(self.registry)
        table = LakeReader(self.settings.lake_location).read_interactions()
        # the champion is re-scored on the same events the challenger trains on
        table = EventThresholds(self.settings.event_value_thresholds).filter_table(table)
        metadata = train_on_table(self.settings, table, None, self.registry)
        outcome = self.decide(metadata, table, force=requested is not None)
        if requested is not None:  # a later request (another erasure) stays pending
            state = _request_state(self.registry)
            state["handled_at"] = max(state.get("handled_at", 0.0), began)
            self.registry.files.write_pointer(REQUEST_POINTER, json.dumps(state).encode())
            self._requested = False
        return outcome

    def decide(
        self, challenger: dict[str, Any], table: pa.Table | None = None, force: bool = False
    ) -> RetrainOutcome:
        """Apply the rule to a trained version's metadata; point the campaign at it if it wins
        (or with ``force``: an erasure's retrain). With the challenger's training ``table`` the
        champion is scored on the same hold-out; without it, by the figure stored with the
        champion."""
        campaign = self.settings.campaign
        champion_version = self.registry.campaign_version(campaign)
        champion = self._champion_score(champion_version, table)
        score = float(challenger["metrics"][METRIC])
        version = str(challenger["version"])
        activated = force or should_activate(score, champion)
        if activated:
            self.registry.set_campaign(campaign, version)
        log.info(
            "retrain: challenger %s %s=%.4f vs champion %s %s; %s", version, METRIC, score,
            champion_version or "(none)", "-" if champion is None else f"{champion:.4f}",
            f"campaign {campaign} switched" if activated else "champion kept",
        )  # fmt: skip
        return RetrainOutcome(version, activated, score, champion, champion_version)

    def _champion_score(self, version: str | None, table: pa.Table | None) -> float | None:
        if version is None:
            return None
        try:
            meta = self.registry.metadata(version)
            if table is None:
                return float(meta["metrics"][METRIC])
            return self._score_on_holdout(str(meta["recipe"]), dict(meta["parameters"]), table)
        except (StreamrecError, KeyError, TypeError, ValueError) as exc:
            log.warning("champion %s has no usable %s (%s): challenger wins", version, METRIC, exc)
            return None

    def _score_on_holdout(self, recipe: str, params: dict[str, Any], table: pa.Table) -> float:
        """The recipe with these parameters, fitted on ``table``'s hold-out training part and
        scored on its test users: what the challenger's metrics measured."""
        from streamrec.recommenders.data import EventWeights
        from streamrec.training.evaluate import evaluate_recipe, prepare

        holdout = prepare(table, EventWeights(dict(self.settings.event_type_weights)))
        result = evaluate_recipe(holdout, recipe, k=K, params=params)
        if result.error is not None:
            raise ModelError(f"champion re-evaluation failed: {result.error}")
        return float(result.metrics[METRIC])

    def run(self, stop: threading.Event, poll_s: float = POLL_S) -> None:
        """Loop until ``stop``: retrain whenever due; failures are logged, never fatal."""
        lock = GroupLock(self.settings.data_dir, "retrain")
        while not stop.wait(poll_s):
            if not self.due():
                continue
            if not lock.try_acquire():
                log.info("retrain: another process holds %s; skipping this round", lock.path)
                self._last_run = self._clock()
                continue
            try:
                self.run_once()
            except ModelError as exc:
                log.warning("retrain skipped: %s", exc)
            except Exception:  # the serving process must survive a failed training
                log.exception("retrain failed; will try again when next due")
            finally:
                lock.release()


def start_retraining(
    settings: Settings,
    registry: ModelRegistry,
    stop: threading.Event,
    events_seen: Callable[[], int] | None = None,
) -> threading.Thread | None:
    """Start the retrain loop on a daemon thread (with both settings off it only answers the
    retrain requests of erasures)."""
    retrainer = Retrainer(settings, registry, events_seen)
    thread = threading.Thread(target=retrainer.run, args=(stop,), name="retrain", daemon=True)
    thread.start()
    return thread
