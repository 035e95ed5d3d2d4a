"""The recommendation service the API calls: the trained model folded in with the user's recent
events, plus what the stream learnt since training, filtered and decorated with item metadata.

Per request: read the user's (and session's) recent events from the user-state store, oldest
first by event time, turn them into a ``UserHistory`` weighted by event type, and score it with
the campaign's active model (no retraining: a new user is personalised from the first click). The
model's scores are used as they are: every weight that mixes signals (recency, transitions,
repeats of the user's own items, the popularity prior, and the stream's co-occurrence of the last
few items, which is how items newer than the model are reached) is a learned parameter of the
model, chosen on a validation split at training and shown in ``GET /v1/models``; nothing is
added here with a hand-set weight. Then items the user bought or rated
(``exclude_seen_event_types``, over the whole history), hidden, excluded and filtered-out items
are dropped and the top n taken. ``exploration_weight`` (Personalize's explorationWeight, an
operator's choice, 0 by default) gives that share of the slots to trending items the model has
never seen. The only I/O is indexed reads of the user's events and exclusions and one of the
returned items' metadata. Where the model scores one history in sparse form and the request has
no filter and no exploration, the same ranking comes from the candidates alone, without arrays
over the whole item space (serving/one_user.py).

A user with no usable events, or a server with no model and no co-occurrence for the user, gets
popularity from the stream, labelled ``{"recipe": "popularity"}``.
"""

from __future__ import annotations

import copy
import dataclasses
import operator
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import numpy as np

from streamrec.catalogue.base import ItemCatalogue
from streamrec.config import Settings
from streamrec.errors import NotFoundError
from streamrec.event_thresholds import EventThresholds
from streamrec.filters import (
    FilterContext,
    ParamValue,
    UserInteractions,
    allowed_items,
    compile_filter,
)
from streamrec.recommenders.base import StreamBlend
from streamrec.recommenders.data import UserHistory, event_type_codes
from streamrec.recommenders.reasons import POPULAR as POPULAR_KIND
from streamrec.recommenders.reasons import ModelReasons
from streamrec.serving.catalogue_view import CatalogueView
from streamrec.serving.models import ModelSource, ModelView, ModelViews
from streamrec.serving.one_user import Exclusions, SparseScores
from streamrec.serving.popular import PopularItems
from streamrec.serving.promotions import Promotion, promote
from streamrec.serving.reasons import POPULAR, Reason, StreamTerms, personal_reasons
from streamrec.serving.scoring import ranked, scaled, top_items
from streamrec.serving.space import ItemSpace
from streamrec.serving.stream_state import StreamState
from streamrec.stores.base import UserEvent, UserStateStore

__all__ = ["RecommendationService", "Recommendations"]

SESSION_PREFIX = "session:"  # the user-state store's key for a session's events


@dataclasses.dataclass(frozen=True)
class Recommendations:
    recipe: str
    version: str | None
    items: list[tuple[str, float | None]]
    recommendation_id: str = dataclasses.field(default_factory=lambda: uuid.uuid4().hex)
    reasons: list[Reason] | None = None  # one per item, where the answer explains its items

    def model_json(self) -> dict[str, Any]:
        return {"recipe": self.recipe, "version": self.version}


@dataclasses.dataclass(frozen=True)
class _Personal:
    scores: np.ndarray  # float64 over the space
    recipe: str
    version: str | None
    # the events that spoke (event_value_thresholds applied) and their space indices, for reasons
    events: Sequence[UserEvent] = ()
    items: np.ndarray = dataclasses.field(default_factory=lambda: np.zeros(0, np.int64))


class RecommendationService:
    def __init__(
        self,
        settings: Settings,
        user_state: UserStateStore,
        catalogue: ItemCatalogue,
        models: Callable[[], ModelSource | None] = lambda: None,
        space: ItemSpace | None = None,
    ) -> None:
        self.settings = settings
        self.user_state = user_state
        self.space = space or ItemSpace()
        self._thresholds = EventThresholds(settings.event_value_thresholds)
        self.stream = StreamState(
            self.space,
            settings.event_type_weights,
            settings.trending_window_s,
            thresholds=self._thresholds,
        )
        self.catalogue = CatalogueView(catalogue, self.space)
        self.models = ModelViews(models, settings.campaign, self.space)
        self.popular = PopularItems(self.stream)
        self._weights = dict(settings.event_type_weights)
        self._seen_types = frozenset(settings.exclude_seen_event_types)
        self._fresh_cache: tuple[object, ModelView | None, np.ndarray] | None = None
        # Whether an id the space lacks came on the stream and waits for admission (the
        # runtime's ItemAdmission.waiting): such an item exists, it has nothing similar yet.
        self.waiting: Callable[[str], bool] = lambda item_id: False
        # rank from the model's and the stream's candidates where the model can (serving/
        # one_user.py); False: always the dense path (the same ranking, for tests to compare)
        self.one_user_path = True
        self.campaign = settings.campaign
        self._models_source = models
        self._by_campaign: dict[str, RecommendationService] = {}
        self._by_campaign_lock = threading.Lock()

    def for_campaign(self, campaign: str) -> RecommendationService:
        """This service answering with ``campaign``'s model (an experiment's variant): the same
        user state, stream state, item space and catalogue; only the model differs."""
        if campaign == self.campaign:
            return self
        with self._by_campaign_lock:
            other = self._by_campaign.get(campaign)
            if other is None:
                other = copy.copy(self)
                other.campaign = campaign
                other.models = ModelViews(self._models_source, campaign, self.space)
                other._fresh_cache = None
                other._by_campaign = {}
                other._by_campaign_lock = threading.Lock()
                self._by_campaign[campaign] = other
            return other

    # -- the public API ---------------------------------------------------------------------------

    def recommend(
        self,
        user_id: str | None,
        n: int,
        session_id: str | None = None,
        filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
        exclude: Sequence[str] = (),
    ) -> Recommendations:
        """Top ``n`` items for a user and/or session (see the module docstring)."""
        filt = compile_filter(filter_text, filter_params) if filter_text else None
        events = self.events(user_id, session_id)
        size = self._size()
        interactions = self._interactions(events)
        excluded = self._excluded(user_id, session_id)
        if filt is None and self._slots(n) == 0 and self.one_user_path:
            fast = self._one_user(events, interactions, [*exclude, *excluded], size, n)
            if fast is not None:
                return fast
        personal = self._personal(events, interactions.items, size)
        blocked = self._blocked(interactions, exclude, size, excluded)
        if filt is not None:
            ctx = FilterContext(self.catalogue.index(), size, self.space.indices, interactions)
            blocked |= ~allowed_items(filt, ctx)
        if personal is None:
            scores = self.stream.popularity(size)
            items = top_items(scores, blocked, n, self.space)
            return Recommendations("popularity", None, items, reasons=[POPULAR] * len(items))
        items, explored = self._with_exploration(personal, blocked, n)
        reasons = self._dense_reasons(personal, [i for i, _ in items[: len(items) - explored]])
        reasons += [Reason("exploration")] * explored
        return Recommendations(personal.recipe, personal.version, items, reasons=reasons)

    def recommend_promoted(
        self,
        user_id: str | None,
        n: int,
        session_id: str | None,
        request: tuple[str | None, Mapping[str, ParamValue] | None, Sequence[str]],
        promotions: Sequence[Promotion],
    ) -> Recommendations:
        """``recommend`` with the promotions' share of the slots (serving/promotions.py);
        ``request``: the request's filter, its params and the items to exclude."""
        if not promotions:
            return self.recommend(user_id, n, session_id, *request)

        def rank(
            n: int,
            filter_text: str | None,
            filter_params: Mapping[str, ParamValue] | None,
            exclude: Sequence[str],
        ) -> Recommendations:
            return self.recommend(user_id, n, session_id, filter_text, filter_params, exclude)

        return promote(rank, n, request, promotions)

    def similar(self, item_id: str, n: int) -> Recommendations:
        """Items related to ``item_id``: the model's one-item history plus stream co-occurrence.
        An id known only from stream events that wait for admission has none yet (not a 404)."""
        idx = self.known_index(item_id)
        size = self._size()
        personal = self._personal([UserEvent(item_id, "view", time.time())], np.array([idx]), size)
        blocked = self.catalogue.hidden(size)
        if idx >= 0:
            blocked[idx] = True
        if personal is None:
            return Recommendations("cooccurrence", None, [])
        items = top_items(personal.scores, blocked, n, self.space, False)
        reasons = [Reason("similar_to", item_id)] * len(items)
        return Recommendations(personal.recipe, personal.version, items, reasons=reasons)

    def popular_items(self, n: int) -> Recommendations:
        size = self._size()
        scores = self.stream.popularity(size)
        items = top_items(scores, self.catalogue.hidden(size), n, self.space)
        return Recommendations("popularity", None, items, reasons=[POPULAR] * len(items))

    def trending_items(self, n: int) -> Recommendations:
        size = self._size()
        scores = self.stream.trending_scores(size)
        items = top_items(scores, self.catalogue.hidden(size), n, self.space)
        return Recommendations("trending", None, items, reasons=[Reason("trending")] * len(items))

    def rank(
        self, user_id: str, item_ids: Sequence[str], session_id: str | None = None
    ) -> Recommendations:
        """``item_ids`` re-ordered for the user (Personalized-Ranking); hidden items left out."""
        events = self.events(user_id, session_id)
        size = self._size()
        interactions = self._interactions(events)
        personal = self._personal(events, interactions.items, size)
        scores = self.stream.popularity(size) if personal is None else personal.scores
        indices = self.space.indices(list(item_ids))
        items = ranked(item_ids, scores, indices, self.catalogue.hidden(size))
        scored = [item for item, score in items if score is not None]  # first; the rest: none
        if personal is None:
            return Recommendations("popularity", None, items, reasons=[POPULAR] * len(scored))
        reasons = self._dense_reasons(personal, scored)
        return Recommendations(personal.recipe, personal.version, items, reasons=reasons)

    def for_aws_sample(self, user_id: str, limit: int, item_id: str | None) -> Recommendations:
        """The sample's GET /recommendation route: the user's recommendations, or with
        ``item_id`` items similar to that item *for that user* (the item is folded in as the
        user's newest event, and never returned itself); an unknown item is a 404 naming
        ``itemId``, as ``similar`` answers for ``item_id``."""
        if not item_id:
            return self.recommend(user_id, limit)
        self.known_index(item_id, "itemId")
        events = [*self.events(user_id, None), UserEvent(item_id, "view", time.time())]
        size = self._size()
        interactions = self._interactions(events)
        personal = self._personal(events, interactions.items, size)
        blocked = self._blocked(interactions, [item_id], size, self._excluded(user_id, None))
        if personal is None:
            scores = self.stream.popularity(size)
            return Recommendations(
                "popularity", None, top_items(scores, blocked, limit, self.space)
            )
        items = top_items(personal.scores, blocked, limit, self.space, False)
        return Recommendations(personal.recipe, personal.version, items)

    def known_index(self, item_id: str, field: str = "item_id") -> int:
        """The item's index in the space (-1: known from the catalogue or waiting for admission,
        in no count yet); NotFoundError naming ``field`` for an id known nowhere."""
        self.models.current()  # the active model's items enter the space first
        idx = self.space.index(item_id)
        if idx < 0 and not self.catalogue.items([item_id]) and not self.waiting(item_id):
            raise NotFoundError(
                f"item {item_id!r} is unknown: not in the catalogue, the model or the stream",
                field,
            )
        return idx

    def decorate(self, result: Recommendations) -> list[dict[str, Any]]:
        entries = self.catalogue.decorate(result.items)
        for entry, reason in zip(entries, result.reasons or (), strict=False):
            entry["reason"] = reason.json()
            if reason.type == "promoted":
                entry["promoted"] = True
        return entries

    # -- the pieces -------------------------------------------------------------------------------

    def _size(self) -> int:
        """The space size to score over, taken after the active model's items are in it."""
        self.models.current()
        return len(self.space)

    def events(self, user_id: str | None, session_id: str | None) -> list[UserEvent]:
        """The user's recent events merged with the session's (an event stored under both keys
        counts once), oldest first."""
        limit = self.settings.user_state_max_events
        events = self.user_state.recent_events(user_id, limit) if user_id else []
        if session_id:
            known = {(e.item_id, e.event_type, e.timestamp) for e in events}
            extra = self.user_state.recent_events(SESSION_PREFIX + session_id, limit)
            events = events + [
                e for e in extra if (e.item_id, e.event_type, e.timestamp) not in known
            ]
        events.sort(key=_timestamp)  # stable: equal times keep the stream's order
        return events

    def _excluded(self, user_id: str | None, session_id: str | None) -> set[str]:
        """Items the user (or session) had an event of an excluded type on, ever."""
        if not self._seen_types:
            return set()
        items = self.user_state.excluded_items(user_id) if user_id else set()
        if session_id:
            items |= self.user_state.excluded_items(SESSION_PREFIX + session_id)
        return items

    def _interactions(self, events: Sequence[UserEvent]) -> UserInteractions:
        if not events:
            return UserInteractions.empty()
        nan = float("nan")
        return UserInteractions(
            items=self.space.indices([e.item_id for e in events]),
            event_types=np.array([e.event_type for e in events], dtype=object),
            values=np.array([nan if e.event_value is None else e.event_value for e in events]),
            timestamps=np.array([e.timestamp for e in events]),
        )

    def _blocked(
        self,
        interactions: UserInteractions,
        exclude: Sequence[str],
        size: int,
        excluded: set[str] | None = None,
    ) -> np.ndarray:
        blocked = self.catalogue.hidden(size)
        if interactions.items.size and self._seen_types:
            seen = np.isin(interactions.event_types, list(self._seen_types))
            items = interactions.items[seen]
            blocked[items[(items >= 0) & (items < size)]] = True
        drop_ids = [*exclude, *(excluded or ())]
        if drop_ids:
            drop = self.space.indices(drop_ids)
            blocked[drop[(drop >= 0) & (drop < size)]] = True
        return blocked

    def _personal(
        self, events: Sequence[UserEvent], items: np.ndarray, size: int
    ) -> _Personal | None:
        """Scores over the space (-inf where nothing speaks for an item) from the model and the
        stream, or None when neither knows anything about these events (the caller then serves
        popularity)."""
        events, items = self._spoken(events, items)
        if not events:
            return None
        scores = np.full(size, -np.inf)
        view = self.models.current()
        used_model = view is not None and self._add_model(view, events, items, scores)
        blend = view.model.stream_blend() if view is not None else StreamBlend(1.0)
        used_stream = self._add_stream(items, blend, scores, used_model)
        if not (used_model or used_stream):
            return None
        if used_model and view is not None:
            return _Personal(scores, view.recipe, view.version, events, items)
        return _Personal(scores, "cooccurrence", None, events, items)

    def _spoken(
        self, events: Sequence[UserEvent], items: np.ndarray
    ) -> tuple[Sequence[UserEvent], np.ndarray]:
        """The events that say something, and their space indices: events below their type's
        ``event_value_thresholds`` are stored and exclude their items, but are not scored."""
        if not self._thresholds:
            return events, items
        keep = self._thresholds.mask(events)
        return [e for e, k in zip(events, keep, strict=True) if k], items[keep]

    def _one_user(
        self,
        events: Sequence[UserEvent],
        interactions: UserInteractions,
        drop_ids: Sequence[str],
        size: int,
        n: int,
    ) -> Recommendations | None:
        """``recommend`` from candidates only (serving/one_user.py), where the model has a
        one-user path and knows one of the user's items; None: take the dense path."""
        view = self.models.current()
        if view is None or view.n_items != view.model.n_items:
            return None
        spoken, spoken_items = self._spoken(events, interactions.items)
        history = self._history(view, spoken, spoken_items) if spoken else None
        user = view.model.user_scores(history) if history is not None else None
        if user is None or history is None:
            return None
        scores = SparseScores.of(view, user)
        blend = view.model.stream_blend()
        idx, term = self._stream_term(spoken_items, blend, size, True)
        if idx.size:
            scores = scores.with_stream(view, idx, term)
        seen = np.isin(interactions.event_types, list(self._seen_types))
        drop = self.space.indices(list(drop_ids)) if drop_ids else np.zeros(0, np.int64)
        blocked = Exclusions.of(self.catalogue.index().hidden, size, interactions.items[seen], drop)
        top_idx, top_scores = scores.top(n, blocked)
        values = top_scores.astype(np.float32).astype(float).tolist()
        items = list(zip(self.space.ids(top_idx), values, strict=True))
        explain = user.explain or partial(view.model.explain, history)
        model = self._model_reasons(view, top_idx, explain)
        stream = self._stream_terms(spoken_items, blend, (idx, term), top_idx)
        own = (spoken, spoken_items)
        reasons = personal_reasons(model, stream, self.space.ids, own, self._weights)
        return Recommendations(view.recipe, view.version, items, reasons=reasons)

    def _history(
        self, view: ModelView, events: Sequence[UserEvent], items: np.ndarray
    ) -> UserHistory | None:
        """The events on items the model knows, as it scores them (None: it knows none)."""
        model_items = view.model_index(items)
        known = model_items >= 0
        if not known.any():
            return None
        weights = np.array([self._weights.get(e.event_type, 1.0) for e in events], np.float32)
        stamps = np.array([e.timestamp for e in events], np.float64)
        types = event_type_codes([e.event_type for e in events])
        return UserHistory.of(model_items[known], weights[known], stamps[known], types[known])

    def _add_model(
        self,
        view: ModelView,
        events: Sequence[UserEvent],
        items: np.ndarray,
        scores: np.ndarray,
    ) -> bool:
        history = self._history(view, events, items)
        if history is None:
            return False
        raw = view.model.score([history])[0][: view.n_items]
        if view.contiguous and view.n_items <= scores.size:
            scores[: view.n_items] = raw
            return True
        target = view.to_space[: view.n_items]
        ok = target < scores.size
        scores[target[ok]] = raw[ok]
        return True

    def _add_stream(
        self, items: np.ndarray, blend: StreamBlend, scores: np.ndarray, used_model: bool
    ) -> bool:
        """The stream's co-occurrence rows of the last ``blend.last_items`` events, scaled to a
        maximum of 1, times the model's learned ``blend.weight`` (alone when there is no
        model); items the model does not score get that term alone."""
        idx, term = self._stream_term(items, blend, scores.size, used_model)
        if idx.size == 0:
            return False
        current = scores[idx]
        scores[idx] = np.where(np.isfinite(current), current + term, term)
        return True

    def _stream_term(
        self, items: np.ndarray, blend: StreamBlend, size: int, used_model: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """(space indices, the stream's term for each): see ``_add_stream``."""
        if blend.weight <= 0 and used_model:
            return np.zeros(0, np.int64), np.zeros(0)
        idx, values = self.stream.cooccurrence_scores(*_recent(items, blend), size)
        return idx, blend.weight * scaled(values) if used_model else scaled(values)

    # -- reasons (serving/reasons.py): computed for the returned items only -----------------------

    def _dense_reasons(self, personal: _Personal, item_ids: list[str]) -> list[Reason]:
        """Reasons of the dense path's personal items: the model's explainer on the history
        it scored, and the stream's term as ``_add_stream`` added it."""
        top_idx = self.space.indices(item_ids)
        view = self.models.current() if personal.recipe != "cooccurrence" else None
        history = self._history(view, personal.events, personal.items) if view else None
        if view is None or history is None:
            model = _unexplained(top_idx.size)
            blend = StreamBlend(1.0)
        else:
            model = self._model_reasons(view, top_idx, partial(view.model.explain, history))
            blend = view.model.stream_blend()
        size = self._size()
        term = self._stream_term(personal.items, blend, size, view is not None)
        stream = self._stream_terms(personal.items, blend, term, top_idx)
        own = (personal.events, personal.items)
        return personal_reasons(model, stream, self.space.ids, own, self._weights)

    def _model_reasons(
        self, view: ModelView, top_idx: np.ndarray, explain: Callable[[np.ndarray], ModelReasons]
    ) -> ModelReasons:
        """The model's reasons of the returned items (space indices), sources in space
        indices; items the model does not know have none (strength -inf)."""
        out = _unexplained(top_idx.size)
        model_idx = view.model_index(top_idx)
        known = np.flatnonzero((model_idx >= 0) & (model_idx < view.n_items))
        if not known.size:
            return out
        found = explain(model_idx[known])
        in_space = view.to_space[found.sources].tolist()  # -1 (no source) is sorted out below
        for k, kind, source, space, strength in zip(known.tolist(), found.kinds, found.sources,
                                                    in_space, found.strengths, strict=True):  # fmt: skip
            out.kinds[k], out.strengths[k] = kind, strength
            out.sources[k] = space if source >= 0 else -1
        return out

    def _stream_terms(
        self,
        items: np.ndarray,
        blend: StreamBlend,
        term: tuple[np.ndarray, np.ndarray],
        top_idx: np.ndarray,
    ) -> StreamTerms:
        """The stream's term of each returned item and the recent item behind most of it."""
        idx, values = term
        if idx.size == 0:
            return StreamTerms.none(top_idx.size)
        targets = top_idx.tolist()
        by_item = dict(zip(idx.tolist(), values.tolist(), strict=True))
        terms = [by_item.get(t, -np.inf) for t in targets]
        return StreamTerms(terms, self.stream.cooccurrence_sources(*_recent(items, blend), targets))

    def _slots(self, n: int) -> int:
        """Slots of a top ``n`` given to exploration (see ``_with_exploration``)."""
        return int(np.ceil(n * self.settings.exploration_weight))

    def _with_exploration(
        self, personal: _Personal, blocked: np.ndarray, n: int
    ) -> tuple[list[tuple[str, float | None]], int]:
        """The top ``n``, with the last ``exploration_weight`` share of the slots given to the
        most trending items the model has never seen (none unless the operator asks); and how
        many of the items, at the end, are exploration's."""
        slots = self._slots(n)
        if slots == 0:
            return top_items(personal.scores, blocked, n, self.space, False), 0
        fresh = self._fresh_items(self.models.current(), blocked.size)
        explore = top_items(fresh, blocked, slots, self.space)
        taken = self.space.indices([i for i, _ in explore]) if explore else np.zeros(0, np.int64)
        rest = blocked.copy()
        rest[taken[taken >= 0]] = True
        items = top_items(personal.scores, rest, n - len(explore), self.space, False)
        return items + explore, len(explore)

    def _fresh_items(self, view: ModelView | None, size: int) -> np.ndarray:
        """Trending scores (0 to 1) of the items the model has never seen, cached as long as the
        trending scores and the model stay the same."""
        trending = self.stream.trending_scores(size)
        source = trending.base if trending.base is not None else trending
        cached = self._fresh_cache
        if (
            cached is not None
            and cached[0] is source
            and cached[1] is view
            and cached[2].size == size
        ):
            return cached[2]
        fresh = np.maximum(trending, 0.0)
        if view is not None:
            fresh[view.to_space[view.to_space < size]] = 0.0
        result = scaled(fresh)
        self._fresh_cache = (source, view, result)
        return result


_timestamp = operator.attrgetter("timestamp")


def _recent(items: np.ndarray, blend: StreamBlend) -> tuple[list[int], list[float]]:
    """The last ``blend.last_items`` events' items the space knows, with their weights (the
    newest 1, each older one half as much): the stream term's sources."""
    recent = items[-blend.last_items :].tolist()
    decay = np.exp2(-np.arange(len(recent), dtype=np.float64))[::-1].tolist()
    pairs = [(i, w) for i, w in zip(recent, decay, strict=True) if i >= 0]
    return [i for i, _ in pairs], [w for _, w in pairs]


def _unexplained(size: int) -> ModelReasons:
    return ModelReasons([POPULAR_KIND] * size, [-1] * size, [-np.inf] * size)
