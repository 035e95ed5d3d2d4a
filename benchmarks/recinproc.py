"""The request path without HTTP: the limit the ``GET /v1/recommendations`` figures are read against.

Built on the same data directory as the server under test (a second reader of its SQLite files),
with one BLAS thread as ``streamrec serve`` uses, it times for the same users:

- ``model.score`` of the user's history alone (the batch path: a dense row over every item);
- ``model.recommend_user`` of the same history (the one-user path: the model's share of a
  request where the recipe has one, see recommenders/one_user.py);
- ``RecommendationService.recommend`` + ``decorate``: everything the route does but HTTP and JSON
  (user-state read, fold-in, stream co-occurrence, exclusions, top-n, catalogue metadata).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.catalogue import open_catalogue
from streamrec.config import Settings
from streamrec.models.registry import ModelRegistry
from streamrec.recommenders.data import UserHistory
from streamrec.serving.models import ModelView
from streamrec.serving.service import RecommendationService
from streamrec.stores import open_user_state_store

__all__ = ["InProcessLimit"]

WARM_UP_CALLS = 20


class InProcessLimit:
    def __init__(self, data_dir: Path, users: Sequence[str], n: int) -> None:
        settings = Settings(data_dir=data_dir)
        self.user_state = open_user_state_store(settings)
        self.catalogue = open_catalogue(settings)
        registry = ModelRegistry(settings)
        self.service = RecommendationService(
            settings, self.user_state, self.catalogue, lambda: registry
        )
        self.service.stream.warm(self.user_state)  # as Runtime does in the server
        view = self.service.models.current()
        if view is None:
            raise RuntimeError(f"no active model in {data_dir}")
        self.view = view
        self.users = list(users)
        self.n = n
        self.histories = [self._history(view, u) for u in self.users]

    def _history(self, view: ModelView, user: str) -> UserHistory:
        """The history the service scores for ``user`` (see ``RecommendationService._add_model``)."""
        events = self.service.events(user, None)
        weights = dict(self.service.settings.event_type_weights)
        items = view.model_index(self.service.space.indices([e.item_id for e in events]))
        w = np.array([weights.get(e.event_type, 1.0) for e in events], np.float32)
        stamps = np.array([e.timestamp for e in events], np.float64)
        known = items >= 0
        return UserHistory.of(items[known], w[known], stamps[known])

    def measure(self) -> dict[str, Any]:
        """Per-call wall times (ms) of both, and recommend+decorate calls per second."""
        score, one = self.view.model.score, self.view.model.recommend_user
        with threadpool_limits(1):
            score_ms = timed([partial(score, [h]) for h in self.histories])
            one_ms = timed([partial(one, h, self.n) for h in self.histories])
            recommend_ms = timed([partial(self.respond, u) for u in self.users])
        return {
            "score_p50_ms": statistics.median(score_ms),
            "one_user_p50_ms": statistics.median(one_ms),
            "recommend_p50_ms": statistics.median(recommend_ms),
            "recommend_per_s": 1000.0 * len(recommend_ms) / sum(recommend_ms),
            "history_events_p50": statistics.median(len(h.items) for h in self.histories),
        }

    def respond(self, user: str) -> list[dict[str, Any]]:
        """What the route computes before JSON encoding: the top n with catalogue metadata."""
        return self.service.decorate(self.service.recommend(user, self.n))

    def close(self) -> None:
        self.user_state.close()
        self.catalogue.close()


def timed(calls: Sequence[Callable[[], object]]) -> list[float]:
    for call in calls[:WARM_UP_CALLS]:
        call()
    out = []
    for call in calls:
        start = time.perf_counter()
        call()
        out.append((time.perf_counter() - start) * 1000)
    return out
