"""Batch inference (Personalize's batch inference jobs): what ``GET /v1/recommendations/{user}``
returns, for many users at once.

Each user's answer is built from the same pieces as a request (:class:`RecommendationService`):
the user's events and exclusions from the user-state store, the thresholds, the stream's
co-occurrence blended by the model's learned weight, hidden and filtered items, exploration, the
popularity fallback. What a request does per user is done here per chunk of users: one store read
(``UserStateStore.states_of``), the events turned into arrays once (serving/batch_events.py), one
call of the model on all their histories (``Recommender.score`` on a batch), one score matrix and
one top-k over it; only the stream's co-occurrence term is added user by user. The batch must
answer what the route answers: tests/serving/test_batch.py compares the two user by user.
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
from streamrec.serving.batch_events import ChunkEvents
from streamrec.serving.models import ModelView
from streamrec.serving.scoring import top_items
from streamrec.serving.service import Recommendations, RecommendationService, _Personal

__all__ = ["BatchScorer", "ChunkScores", "UserScores"]

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


@dataclasses.dataclass
class ChunkScores:
    """A chunk of users' scores: row ``r`` is ``user_ids[r]``'s, -inf where nothing speaks for
    an item; ``models[r]`` names the (recipe, version) that scored it, None where nothing
    personal did (popularity serves); ``blocked[r]`` the items it must not be given."""

    user_ids: Sequence[str]
    scores: np.ndarray  # float64 [users, size]
    blocked: np.ndarray  # bool [users, size]
    models: list[tuple[str, str | None] | None]

    def users(self) -> Iterator[UserScores]:
        for r, user_id in enumerate(self.user_ids):
            model = self.models[r]
            personal = None if model is None else _Personal(self.scores[r], *model)
            yield UserScores(user_id, personal, self.blocked[r])


class BatchScorer:
    def __init__(self, service: RecommendationService) -> None:
        self.service = service

    def load(self) -> None:
        """Load what the first chunk would otherwise: the active model (its items into the
        space) and the catalogue's index."""
        self.service.models.current()
        self.service.catalogue.index()

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
        out: list[Recommendations] = []
        explore = self.service.settings.exploration_weight > 0
        for chunk in self.chunks(user_ids, filter_text, filter_params):
            if explore:
                out += [self.top(user, n) for user in chunk.users()]
            else:
                out += self._tops(chunk, n)
        return out

    def _tops(self, chunk: ChunkScores, n: int) -> list[Recommendations]:
        """``top`` without exploration, with one top-k over every personal row (the same
        selection per row as ``top_items``, which takes one row at a time)."""
        personal = [r for r, model in enumerate(chunk.models) if model is not None]
        ranked: dict[int, list[tuple[str, float | None]]] = {}
        if personal:
            # the chunk's own matrix when every row is personal (recommend needs it no more)
            whole = len(personal) == len(chunk.models)
            scores = chunk.scores if whole else chunk.scores[personal]
            blocked = chunk.blocked if whole else chunk.blocked[personal]
            scores[blocked | ~np.isfinite(scores)] = -np.inf
            idx, vals = top_k(scores, n)
            ids = self.service.space.ids
            for r, row, values in zip(personal, idx, vals, strict=True):
                keep = row >= 0
                ranked[r] = list(
                    zip(ids(row[keep]), values[keep].astype(float).tolist(), strict=True)
                )
        out = []
        for r, model in enumerate(chunk.models):
            if model is None:
                out.append(self._popular(chunk.blocked[r], n))
            else:
                out.append(Recommendations(model[0], model[1], ranked[r]))
        return out

    def _popular(self, blocked: np.ndarray, n: int) -> Recommendations:
        scores = self.service.stream.popularity(blocked.size)
        return Recommendations(
            "popularity", None, top_items(scores, blocked, n, self.service.space)
        )

    def top(self, user: UserScores, n: int) -> Recommendations:
        if user.personal is None:
            return self._popular(user.blocked, n)
        items, _ = self.service._with_exploration(user.personal, user.blocked, n)
        return Recommendations(user.personal.recipe, user.personal.version, items)

    def scores(
        self,
        user_ids: Sequence[str],
        filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Iterator[UserScores]:
        """Per user, in order: the scores a request would rank, and what it would block."""
        for chunk in self.chunks(user_ids, filter_text, filter_params):
            yield from chunk.users()

    def chunks(
        self,
        user_ids: Sequence[str],
        filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Iterator[ChunkScores]:
        """The users' scores, ``chunk_size`` users at a time, in order."""
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
            yield self._chunk(user_ids[start : start + step], size, filt, shared)

    def _chunk(
        self, user_ids: Sequence[str], size: int, filt: Filter | None, shared: np.ndarray | None
    ) -> ChunkScores:
        service = self.service
        limit = service.settings.user_state_max_events
        events = ChunkEvents.read(service.user_state, service.space, user_ids, limit)
        blocked = events.blocked(service.catalogue.hidden(size), service.space, service._seen_types)
        if shared is not None:
            blocked |= shared
        elif filt is not None:
            index = service.catalogue.index()
            for r in range(len(user_ids)):
                ctx = FilterContext(index, size, service.space.indices, events.interactions(r))
                blocked[r] |= ~allowed_items(filt, ctx)
        scores = np.full((len(user_ids), size), -np.inf)
        counted = events.counted(service._thresholds)
        view = service.models.current()
        scored = self._add_model(view, events, counted, scores)
        models = self._add_stream(view, events, counted, scored, scores)
        return ChunkScores(user_ids, scores, blocked, models)

    def _add_model(
        self, view: ModelView | None, events: ChunkEvents, counted: np.ndarray, scores: np.ndarray
    ) -> np.ndarray:
        """The model's scores of the users with a counted event on an item it knows, from one
        call (``RecommendationService._add_model``); which users it scored (bool)."""
        scored = np.zeros(events.n_users, bool)
        if view is None:
            return scored
        histories = events.model_histories(view, self.service._weights, counted)
        if histories.rows.size == 0:
            return scored
        raw = view.model.score(histories.batch)[:, : view.n_items]
        if view.contiguous and view.n_items <= scores.shape[1]:
            scores[histories.rows, : view.n_items] = raw
        else:
            target = view.to_space[: view.n_items]
            ok = target < scores.shape[1]
            scores[np.ix_(histories.rows, target[ok])] = raw[:, ok]
        scored[histories.rows] = True
        return scored

    def _add_stream(
        self,
        view: ModelView | None,
        events: ChunkEvents,
        counted: np.ndarray,
        scored: np.ndarray,
        scores: np.ndarray,
    ) -> list[tuple[str, str | None] | None]:
        """Each user's stream term (``RecommendationService._personal``), and which model
        speaks for the user (None: nothing does, popularity serves)."""
        blend = view.model.stream_blend() if view is not None else StreamBlend(1.0)
        rows = events.rows[counted]
        items = events.items[counted]
        starts = np.searchsorted(rows, np.arange(events.n_users + 1))
        out: list[tuple[str, str | None] | None] = []
        for r, (lo, hi) in enumerate(zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)):
            if lo == hi:  # no event that counts
                out.append(None)
                continue
            used_model = bool(scored[r])
            used_stream = self.service._add_stream(items[lo:hi], blend, scores[r], used_model)
            if used_model and view is not None:
                out.append((view.recipe, view.version))
            elif used_stream:
                out.append(("cooccurrence", None))
            else:
                out.append(None)
        return out
