"""Batch inference (Personalize's batch inference jobs): what ``GET /v1/recommendations/{user}``
returns, for many users at once.

Each user's answer is built from the same pieces as a request (:class:`RecommendationService`):
the user's events and exclusions from the user-state store, the thresholds, the stream's
co-occurrence blended by the model's learned weight, hidden and filtered items, exploration, the
popularity fallback. Only the model is called differently: once per chunk of users with all their
histories (``Recommender.score`` on a batch), not once per user, which is where a request spends
most of its time. The batch must answer what the route answers: tests/serving/test_batch.py
compares the two user by user.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence

import numpy as np

from streamrec.filters import (
    Filter,
    FilterContext,
    ParamValue,
    UserInteractions,
    allowed_items,
    compile_filter,
    uses_interactions,
)
from streamrec.recommenders.base import StreamBlend, top_k
from streamrec.recommenders.data import UserHistory, event_type_codes
from streamrec.serving.models import ModelView
from streamrec.serving.scoring import top_items
from streamrec.serving.service import Recommendations, RecommendationService, _Personal
from streamrec.stores.base import UserEvent

__all__ = ["BatchScorer", "UserScores"]

# Rows of model scores held at once: a chunk's matrix stays near 64 MB of float32 at any catalogue.
SCORE_CELLS = 16_000_000
MAX_CHUNK = 1_000


@dataclasses.dataclass
class UserScores:
    """One user's scores over the space (None: nothing personal, popularity serves) and the
    items that must not be recommended to them."""

    user_id: str
    personal: _Personal | None
    blocked: np.ndarray


class BatchScorer:
    def __init__(self, service: RecommendationService) -> None:
        self.service = service

    def chunk_size(self) -> int:
        view = self.service.models.current()
        n_items = max(1, view.n_items if view is not None else 1)
        return max(1, min(MAX_CHUNK, SCORE_CELLS // n_items))

    def recommend(
        self,
        user_ids: Sequence[str],
        n: int,
        filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> list[Recommendations]:
        """What ``RecommendationService.recommend(user, n, filter=...)`` returns, per user."""
        users = list(self.scores(user_ids, filter_text, filter_params))
        if self.service.settings.exploration_weight > 0:
            return [self.top(user, n) for user in users]
        return self._tops(users, n)

    def _tops(self, users: list[UserScores], n: int) -> list[Recommendations]:
        """``top`` without exploration, with one top-k over every personal row (the same
        selection per row as ``top_items``, which takes one row at a time)."""
        personal = [u for u in users if u.personal is not None]
        ranked: dict[str, list[tuple[str, float | None]]] = {}
        if personal:
            scores = np.stack([u.personal.scores for u in personal if u.personal is not None])
            blocked = np.stack([u.blocked for u in personal])
            masked = np.where(blocked | ~np.isfinite(scores), -np.inf, scores)
            idx, vals = top_k(masked, n)
            ids = self.service.space.ids
            for user, row, values in zip(personal, idx, vals, strict=True):
                keep = row >= 0
                ranked[user.user_id] = list(
                    zip(ids(row[keep]), values[keep].astype(float).tolist(), strict=True)
                )
        return [
            self.top(u, n)
            if u.personal is None
            else Recommendations(u.personal.recipe, u.personal.version, ranked[u.user_id])
            for u in users
        ]

    def top(self, user: UserScores, n: int) -> Recommendations:
        service = self.service
        if user.personal is None:
            scores = service.stream.popularity(user.blocked.size)
            items = top_items(scores, user.blocked, n, service.space)
            return Recommendations("popularity", None, items)
        items, _ = service._with_exploration(user.personal, user.blocked, n)
        return Recommendations(user.personal.recipe, user.personal.version, items)

    def scores(
        self,
        user_ids: Sequence[str],
        filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Iterator[UserScores]:
        """Per user, in order: the scores a request would rank, and what it would block."""
        filt = compile_filter(filter_text, filter_params) if filter_text else None
        service = self.service
        size = service._size()
        shared = None
        if filt is not None and not any(uses_interactions(s.expr) for s in filt.statements):
            ctx = FilterContext(
                service.catalogue.index(), size, service.space.indices, UserInteractions.empty()
            )
            shared = ~allowed_items(filt, ctx)
        step = self.chunk_size()
        for start in range(0, len(user_ids), step):
            yield from self._chunk(user_ids[start : start + step], size, filt, shared)

    def _chunk(
        self, user_ids: Sequence[str], size: int, filt: Filter | None, shared: np.ndarray | None
    ) -> list[UserScores]:
        service = self.service
        view = service.models.current()
        prepared = []
        for user_id in user_ids:
            events = service.events(user_id, None)
            interactions = service._interactions(events)
            excluded = service._excluded(user_id, None)
            blocked = service._blocked(interactions, (), size, excluded)
            if shared is not None:
                blocked |= shared
            elif filt is not None:
                ctx = FilterContext(
                    service.catalogue.index(), size, service.space.indices, interactions
                )
                blocked |= ~allowed_items(filt, ctx)
            prepared.append((user_id, *self._counted(events, interactions.items), blocked))
        model_rows = self._model_rows(view, [(e, i) for _, e, i, _ in prepared])
        out = []
        for (user_id, events, items, blocked), raw in zip(prepared, model_rows, strict=True):
            personal = self._personal(view, events, items, raw, size)
            out.append(UserScores(user_id, personal, blocked))
        return out

    def _counted(
        self, events: list[UserEvent], items: np.ndarray
    ) -> tuple[list[UserEvent], np.ndarray]:
        thresholds = self.service._thresholds
        if not thresholds or not events:
            return events, items
        keep = thresholds.mask(events)
        return [e for e, k in zip(events, keep, strict=True) if k], items[keep]

    def _model_rows(
        self, view: ModelView | None, users: list[tuple[list[UserEvent], np.ndarray]]
    ) -> list[np.ndarray | None]:
        """The model's scores per user (None: no event the model knows), from one call."""
        if view is None:
            return [None] * len(users)
        histories: list[UserHistory] = []
        rows: list[int | None] = []
        weights = self.service._weights
        for events, items in users:
            model_items = view.model_index(items) if events else np.zeros(0, np.int64)
            known = model_items >= 0
            if not known.any():
                rows.append(None)
                continue
            w = np.array([weights.get(e.event_type, 1.0) for e in events], np.float32)
            stamps = np.array([e.timestamp for e in events], np.float64)
            types = event_type_codes([e.event_type for e in events])
            rows.append(len(histories))
            histories.append(
                UserHistory.of(model_items[known], w[known], stamps[known], types[known])
            )
        raw = view.model.score(histories) if histories else np.zeros((0, 0), np.float32)
        return [None if r is None else raw[r][: view.n_items] for r in rows]

    def _personal(
        self,
        view: ModelView | None,
        events: list[UserEvent],
        items: np.ndarray,
        raw: np.ndarray | None,
        size: int,
    ) -> _Personal | None:
        """``RecommendationService._personal`` with the model's row already computed."""
        if not events:
            return None
        scores = np.full(size, -np.inf)
        used_model = view is not None and raw is not None
        if used_model and view is not None and raw is not None:
            if view.contiguous and view.n_items <= size:
                scores[: view.n_items] = raw
            else:
                target = view.to_space[: view.n_items]
                ok = target < size
                scores[target[ok]] = raw[ok]
        blend = view.model.stream_blend() if view is not None else StreamBlend(1.0)
        used_stream = self.service._add_stream(items, blend, scores, used_model)
        if not (used_model or used_stream):
            return None
        if used_model and view is not None:
            return _Personal(scores, view.recipe, view.version)
        return _Personal(scores, "cooccurrence", None)
