"""The default recipe: a recency-weighted item-item model blended with next-item transitions,
the user's own items (repeat consumption) and a popularity prior.

Signals, each normalised per user so that their blend weights mean the same on any data:

- ``base``: EASE (small catalogues) or sparse item-kNN (large ones) scoring the user's history,
  with recent events counting more (half-life in events, so it works for sessions and for years);
- ``transitions``: P(next item | recent item) from the order of events, scored from the last few
  items: what users do *next*, which pure co-occurrence models cannot see;
- ``repeat``: the calibrated chance that the next event is on one of the user's own recent items,
  by recency, count and event type (repeat.py); items of types serving excludes never repeat;
- ``popularity``: a prior on what is popular *now*, relative to the end of training: either the
  weighted events of trending's recent window (``window``) or counts decayed with a half-life of a
  tenth of the data's span (``decayed``);
- ``stream``: at request time the service adds the stream's real-time co-occurrence of the last
  few items (how items newer than the model are reached) with ``stream_weight``; the weight is
  tuned here by replaying the training events through the same co-occurrence the stream keeps;
- ``sequence`` (optional, ``sequence_budget_s`` > 0 with the ``streamrec[sequential]`` extra):
  a SASRec model's next-item probabilities from the order of the user's latest events
  (hybrid_sequence.py); weight 0, and no model kept, where validation finds no gain.

Every weight and the half-life are tuned at fit time on a validation split carved from the
training data only: each user's last event with the events before it fitted, and the event
before that with its own fit (two folds: twice the evidence on small data), each ranked as
serving ranks it (the user's last ``max_history`` events folded in, items with an event of
``excluded_types`` removed over the whole history, the other own items allowed back). With too few validation cases whose
target the model could reach to tell settings apart (tiny data, where item-item statistics are
noise too), no tuning happens and the recent-window prior leads, more so the less evidence there
is: the empirical-Bayes move of shrinking towards the prior. A switch away from the default prior
needs a paired gain of more than one standard error. Large training sets tune on a sample of
users with a coarser grid so that training stays affordable.
"""

from __future__ import annotations

import functools
import itertools
from dataclasses import dataclass, replace
from typing import Any, Literal

import numpy as np
import scipy.sparse as sp

from streamrec.recommenders import hybrid_sequence
from streamrec.recommenders.base import Recommender, StreamBlend
from streamrec.recommenders.data import HistoryBatch, Interactions, UserHistory, type_codes_of
from streamrec.recommenders.ease import ease_weights
from streamrec.recommenders.hybrid_reasons import HybridReasons, RowPart
from streamrec.recommenders.one_user import (
    UserScores,
    history_row,
    member,
    one_user_batch,
    sparse_row_sums,
    unique,
)
from streamrec.recommenders.popularity import decayed_counts, window_counts
from streamrec.recommenders.repeat import RepeatRates, user_repeat_candidates
from streamrec.recommenders.sequential import Sequential
from streamrec.recommenders.sparse import (
    STREAM_NEIGHBOURS,
    STREAM_PAIR_GAP_S,
    consecutive_cooccurrence,
    cosine_neighbours,
    history_matrix,
    transition_matrix,
)

__all__ = ["Hybrid", "HybridConfig"]

Prior = Literal["window", "decayed"]
_NONE = (np.zeros(0, np.int64), np.zeros(0, np.float32))
# scipy's kernel behind ``csr_matrix @ dense`` (see _history_product); None where a scipy
# release moves it, and the public product is used
_csr_matvecs: Any = getattr(getattr(sp, "_sparsetools", None), "csr_matvecs", None)


@dataclass(frozen=True)
class _Grid:
    """Candidate settings searched on validation."""

    half_lives: tuple[float | None, ...]
    transition_weights: tuple[float, ...]
    popularity_weights: tuple[float, ...]  # never 0: popularity breaks ties
    repeat_weights: tuple[float, ...] = (
        0.0,
        0.5,
        1.0,
        2.0,
        4.0,
        8.0,
        16.0,
        32.0,
        64.0,
        128.0,
        256.0,
    )
    stream_weights: tuple[float, ...] = (0.0, 0.03, 0.1, 0.3, 1.0, 3.0)
    sequence_weights: tuple[float, ...] = (0.0, 0.1, 0.3, 0.5, 1.0, 2.0, 4.0)
    # a softer softmax lets the model's 2nd to 50th items count too: on MovieLens 100K the
    # gain over the hybrid grew from T = 1 to 4 and flattened at 8
    sequence_temperatures: tuple[float, ...] = (1.0, 3.0, 10.0)


_FULL_GRID = _Grid((2.0, 8.0, 32.0, None), (0.0, 0.1, 0.3, 1.0, 3.0, 10.0), (0.001, 0.05, 0.2, 1.0))
# above _LARGE_EVENTS the tuning fit is the dominant cost: a coarser grid, fewer users, and the
# tuning fit on a sample of users (the blend is scale-free, so its weights carry over)
_COARSE_GRID = _Grid((8.0, None), (0.3, 1.0, 3.0, 10.0), (0.05, 0.2, 1.0))
_LARGE_EVENTS = 300_000
_LARGE_VALIDATION_USERS = 500
_LARGE_TUNING_USERS = 0.5  # share of the other users whose events the tuning fit keeps
_VALIDATION_CELLS = 50_000_000
_PRIORS: tuple[Prior, ...] = ("decayed", "window")
_TIE_BREAK_SHARE = 1e-3  # with no evidence at all the personalised signals only break ties
_MIN_EVENTS = 2  # a validation case: one event to fold in and the next one to guess
_FOLDS = 2  # validation targets per user: the last event, then the one before (own fit each)
_ROUNDS = 3  # coordinate passes over the blend weights at most (one that changes nothing ends)


@dataclass(frozen=True)
class HybridConfig:
    base: Literal["auto", "ease", "knn"] = "auto"
    ease_max_items: int = 8_000  # "auto" uses EASE up to here (items seen twice+), item-kNN above
    ease_min_count: int = 2  # an item seen once co-occurs with one user only: no evidence
    ease_regularization: float = 500.0
    knn_k: int = 200
    half_life_events: float | None = 8.0
    transition_weight: float = 0.3
    popularity_weight: float = 0.05
    repeat_weight: float = 0.0
    stream_weight: float = 0.0
    prior: Prior = "decayed"
    prior_window_s: float = 7 * 86_400.0  # trending's default window
    transition_window: int = 3
    last_items: int = 3  # transitions and stream co-occurrence: this many most recent events
    # how serving ranks (training passes the settings): items with an event of these types are
    # never recommended to that user again, and at most max_history recent events fold in
    excluded_types: tuple[str, ...] = ("purchase", "rating")
    max_history: int = 200
    # the sequence term (hybrid_sequence.py): seconds to train its model in (0: no term, nor
    # without the extra); its weight and temperature are learned on validation, like the rest
    sequence_budget_s: float = 0.0
    # seeds of its model averaged, sharing the budget (sequential_fit.py): one seed's validation
    # NDCG@10 on MovieLens 100K ranged from 0.134 to 0.138, the average of two 0.139 to 0.145.
    # Two rather than three: in 300 s two members train about 30 epochs each, near their peak,
    # three only 15 to 22 (served NDCG@10 0.1353 against 0.1301, docs/sequential.md)
    sequence_members: int = 2
    sequence_weight: float = 0.0
    sequence_temperature: float = 1.0
    tune: bool = True
    validation_users: int = 3_000
    # below this many reachable validation cases one hit moves NDCG by > 2%: too noisy to tune
    min_validation_cases: int = 50
    seed: int = 0


@dataclass(frozen=True)
class _Validation:
    """The tuning fit's view of the validation users: their histories as serving folds them
    in, the items serving would exclude, and the next item each one went to."""

    batch: HistoryBatch  # the last max_history events of each validation user
    excluded: tuple[np.ndarray, np.ndarray]  # (rows, items) never recommended
    targets: np.ndarray


class Hybrid(Recommender):
    recipe = "hybrid"
    config: HybridConfig

    def __init__(self, **params: Any) -> None:
        super().__init__()
        params = {k: tuple(v) if k == "excluded_types" else v for k, v in params.items()}
        self.config = HybridConfig(**params)
        self.base_dense = np.zeros((0, 0), np.float32)  # EASE weights, when the base is EASE
        self.base_items = np.zeros(0, np.int32)  # the items EASE covers (seen ease_min_count+)
        self.base_sparse = sp.csr_matrix((0, 0), dtype=np.float32)  # item-kNN otherwise
        self.transitions = sp.csr_matrix((0, 0), dtype=np.float32)
        self.popularity = np.zeros(0, np.float32)
        self.repeat = RepeatRates()
        self.sequence: Sequential | None = None  # the sequence term's model, where it has one
        # arrays a request needs, derived from the learned ones once (keyed by the source array)
        self._one_user_cache: dict[str, tuple[np.ndarray, np.ndarray]] = {}

    @property
    def _excluded(self) -> frozenset[int]:
        return _type_codes(self.config.excluded_types)

    def stream_blend(self) -> StreamBlend:
        return StreamBlend(self.config.stream_weight, self.config.last_items)

    # -- training ---------------------------------------------------------------------------
    def _fit(self, interactions: Interactions) -> None:
        self.sequence = None
        if self.config.tune:
            self.config = replace(self._tuned(interactions), tune=False)
        if not self.config.sequence_weight:
            self.sequence = None  # trained for validation, not kept where it gains nothing
        self._fit_components(interactions)

    def _fit_components(self, interactions: Interactions) -> None:
        cfg = self.config
        self.n_items = interactions.n_items
        x = interactions.to_csr(binary=True)
        active = np.flatnonzero(np.asarray(x.sum(axis=0)).ravel() >= cfg.ease_min_count)
        if self._uses_ease(active.size):
            self.base_items = active.astype(np.int32)
            self.base_dense = ease_weights(x[:, active], active.size, cfg.ease_regularization)
            self.base_sparse = sp.csr_matrix((0, 0), dtype=np.float32)
        else:
            x = interactions.to_csr()
            x.data = np.log1p(x.data)
            self.base_sparse = cosine_neighbours(x, cfg.knn_k)
            self.base_dense = np.zeros((0, 0), np.float32)
            self.base_items = np.zeros(0, np.int32)
        self.transitions = transition_matrix(interactions, cfg.transition_window)
        self.popularity = self._prior(interactions, cfg.prior)
        self.repeat = RepeatRates.fit(interactions.histories(), self._excluded, cfg.seed)

    def _uses_ease(self, n_items: int) -> bool:
        base = self.config.base
        return base == "ease" or (base == "auto" and n_items <= self.config.ease_max_items)

    def _prior(self, interactions: Interactions, kind: Prior) -> np.ndarray:
        """Popularity relative to the end of training, scaled to [0, 1]. ``window``: weighted
        events of the last ``prior_window_s`` (ties, and items outside it, ordered by the
        decayed counts); ``decayed``: counts with a half-life of a tenth of the data's span."""
        span_days = float(np.ptp(interactions.timestamp)) / 86_400.0 if len(interactions) else 1.0
        decayed = _scaled(decayed_counts(interactions, max(span_days / 10.0, 1e-3), True))
        if kind == "decayed":
            return decayed
        recent = _scaled(window_counts(interactions, self.config.prior_window_s))
        return _scaled(recent + 1e-2 * decayed)

    def _tuned(self, interactions: Interactions) -> HybridConfig:
        """Grid search on each user's last event of the training data, and on the event before
        it with its own fit (twice the evidence on small data), each ranked as serving would
        rank it; with too few informative validation cases, the recent-window prior leads."""
        cfg = self.config
        large = len(interactions) > _LARGE_EVENTS
        grid = _COARSE_GRID if large else _FULL_GRID
        rng = np.random.default_rng(cfg.seed)
        self.config = replace(cfg, tune=False)
        folds: list[_Fold] = []
        for back in range(1, _FOLDS + 1):
            fold = self._fold(interactions, back, rng, large, grid)
            if isinstance(fold, int):  # too few cases: the first fold decides on the fallback
                if back == 1:
                    self.config = cfg
                    return self._fallback(fold, interactions)
                break
            folds.append(fold)
        folds = self._with_sequence(interactions, folds)
        n_cases = sum(f.val.targets.size for f in folds)
        self.metadata["tuning"] = f"validation ({n_cases} cases, {len(folds)} folds)"
        search = _GridSearch(self, folds)
        best = search.run(grid)
        if self.sequence is not None:  # what the term adds, as validation measured it
            without = search.gains(replace(best, sequence_weight=0.0)).mean()
            self.metadata["validation_ndcg@10_without_sequence"] = round(float(without), 5)
        return best

    def _fold(
        self,
        interactions: Interactions,
        back: int,
        rng: np.random.Generator,
        large: bool,
        grid: _Grid,
    ) -> _Fold | int:
        """The ``back``-th last event of each user as the target, the events before it fitted;
        the number of usable cases instead when there are too few."""
        cfg = self.config
        fit_mask, users, targets = self._validation_cases(interactions, back)
        # a case whose target never occurs in the tuning fit is a miss for every setting: no
        # information about which is better, so only reachable cases count as evidence
        known = np.bincount(interactions.item[fit_mask], minlength=interactions.n_items)
        reachable = known[targets] > 0
        users, targets = users[reachable], targets[reachable]
        if users.size < cfg.min_validation_cases:
            return int(users.size)
        # dense validation scores are users x items floats: cap them at ~200 MB per matrix
        cells = _VALIDATION_CELLS // _FOLDS
        n_val = min(cfg.validation_users, max(100, cells // interactions.n_items))
        n_val = min(n_val, _LARGE_VALIDATION_USERS) if large else n_val
        pick = np.sort(rng.permutation(users.size)[:n_val])
        users, targets = users[pick], targets[pick]
        keep = fit_mask
        if large:  # the tuning fit sees the validation users and a sample of the others
            sampled = rng.random(interactions.n_users) < _LARGE_TUNING_USERS
            sampled[users] = True
            keep = keep & sampled[interactions.user]
        fit_part = interactions.subset(keep)
        self._fit_components(fit_part)
        val = self._validation(fit_part, users, targets)
        if val.targets.size < cfg.min_validation_cases:
            return int(val.targets.size)
        stream = consecutive_cooccurrence(fit_part, STREAM_PAIR_GAP_S, STREAM_NEIGHBOURS)
        return _Fold.of(self, val, stream, fit_part, grid)

    def _with_sequence(self, interactions: Interactions, folds: list[_Fold]) -> list[_Fold]:
        """``folds`` with the sequence term's scores, where it is asked for and can be trained:
        one model on the events every fold fits (each fold's targets never in its training)."""
        cfg = self.config
        if cfg.sequence_budget_s <= 0:
            return folds
        if not hybrid_sequence.available():
            self.metadata["sequence"] = "not trained: pip install 'streamrec[sequential]'"
            return folds
        fit_mask = np.ones(len(interactions), bool)
        for back in range(1, len(folds) + 1):
            fit_mask &= self._validation_cases(interactions, back)[0]
        self.sequence, status = hybrid_sequence.train(
            interactions.subset(fit_mask), cfg.sequence_budget_s, cfg.seed, cfg.sequence_members
        )
        self.metadata["sequence"] = status
        if self.sequence is None:
            return folds
        self.metadata["sequence_training"] = self.sequence.metadata.get("training", {})
        shifted = [hybrid_sequence.shifted_logits(self.sequence, f.val.batch) for f in folds]
        return [replace(f, sequence=s) for f, s in zip(folds, shifted, strict=True)]

    def _validation_cases(
        self, interactions: Interactions, back: int = 1
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Each user with enough events: the ``back``-th last event is the target, the events
        before it the tuning fit (later ones are left out: they are the future). Returns (fit
        mask over events, users, target items)."""
        order = np.lexsort((np.arange(len(interactions)), interactions.user))
        counts = np.bincount(interactions.user, minlength=interactions.n_users)
        ends = np.cumsum(counts)
        users = np.flatnonzero(counts >= _MIN_EVENTS + back - 1)
        fit_mask = np.ones(len(interactions), bool)
        for step in range(1, back + 1):
            fit_mask[order[ends[users] - step]] = False
        target = order[ends[users] - back]
        return fit_mask, users, interactions.item[target].astype(np.int64)

    def _validation(
        self, fit_part: Interactions, users: np.ndarray, targets: np.ndarray
    ) -> _Validation:
        """Serving's view of each validation user; cases whose target serving would exclude
        (already bought or rated) are dropped, as no setting could reach them."""
        full = fit_part.histories().take_rows(users)
        banned = np.isin(full.types(), list(self._excluded))
        rows, items = full.rows()[banned].astype(np.int64), full.items[banned].astype(np.int64)
        blocked = np.zeros(users.size, bool)
        blocked[rows[items == targets[rows]]] = True
        ok = ~blocked
        if not ok.all():
            full = full.take_rows(np.flatnonzero(ok))
            remap = np.cumsum(ok) - 1
            keep = ok[rows]
            rows, items, targets = remap[rows[keep]], items[keep], targets[ok]
        batch = full.last_events(self.config.max_history)
        return _Validation(batch, (rows, items), targets)

    def _fallback(self, n_validation: int, interactions: Interactions) -> HybridConfig:
        """Too few reachable validation cases to tune: shrink towards the recent-window prior in
        proportion to the missing evidence (the personalised signals weigh n /
        min_validation_cases of the prior), so tiny data is served mostly by what is popular now
        and, with no evidence at all, the personalised signals only break near-ties.

        The user's own items keep their place without a tuned weight: the repeat table is a
        calibrated chance that the next event is that item, and the prior (1 at the top item)
        stands for about the top item's share of events, so the repeat weight puts both on one
        scale (pw / top share): an own item comes first exactly when it is likelier than what is
        popular."""
        cfg = self.config
        self.metadata["tuning"] = f"prior fallback ({n_validation} reachable validation cases)"
        share = max(n_validation / cfg.min_validation_cases, _TIE_BREAK_SHARE)
        pw = 1.0 / share
        counts = np.bincount(interactions.item, minlength=interactions.n_items)
        top_share = float(counts.max(initial=0)) / max(1, int(counts.sum()))
        rw = pw / top_share if top_share > 0 else 0.0
        return replace(cfg, prior="window", popularity_weight=pw, repeat_weight=rw)

    # -- scoring ----------------------------------------------------------------------------
    def _base_scores(self, batch: HistoryBatch, half_life: float | None) -> np.ndarray:
        if self.base_dense.size:
            hist = history_matrix(batch, self.n_items, half_life, binary=True)
            active = np.asarray(hist[:, self.base_items] @ self.base_dense, dtype=np.float32)
            # items outside EASE (seen once) rank below all it covers, unless transitions lift them
            floor = active.min(axis=1, keepdims=True) if active.size else 0.0
            scores = np.broadcast_to(floor, (batch.n_users, self.n_items)).copy()
            scores[:, self.base_items] = active
            return scores
        hist = history_matrix(batch, self.n_items, half_life)
        return np.asarray((hist @ self.base_sparse).toarray(), dtype=np.float32)

    def _recent_scores(self, batch: HistoryBatch, matrix: sp.csr_matrix) -> np.ndarray:
        """The rows of ``matrix`` for each user's last ``last_items`` events, the newest
        counting fully and each older one half as much."""
        rank = batch.recency_rank()
        recent = rank < self.config.last_items
        values = np.where(recent, np.exp2(-rank.astype(np.float32)), 0.0).astype(np.float32)
        hist = batch.to_csr(matrix.shape[0], values)
        return np.asarray((hist @ matrix).toarray(), dtype=np.float32)

    def _repeat_scores(self, batch: HistoryBatch) -> np.ndarray:
        scores = np.zeros((batch.n_users, self.n_items), np.float32)
        self.repeat.add_to(scores, batch, self._excluded, 1.0)
        return scores

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        cfg = self.config
        batch = batch.last_events(cfg.max_history)
        scores = _row_normalised(self._base_scores(batch, cfg.half_life_events))
        if self._sequence_on:
            assert self.sequence is not None
            shifted = hybrid_sequence.shifted_logits(self.sequence, batch)
            scores += cfg.sequence_weight * hybrid_sequence.term(shifted, cfg.sequence_temperature)
        if cfg.transition_weight:
            trans = self._recent_scores(batch, self.transitions)
            scores += cfg.transition_weight * _row_normalised(trans)
        if cfg.popularity_weight:
            scores += cfg.popularity_weight * self.popularity
        if cfg.repeat_weight:
            self.repeat.add_to(scores, batch, self._excluded, cfg.repeat_weight)
        return scores

    @property
    def _sequence_on(self) -> bool:
        return bool(self.config.sequence_weight) and self.sequence is not None

    # -- one user (a request): the same scores without a dense row, see one_user.py ---------
    def user_scores(self, history: UserHistory) -> UserScores | None:
        """The batch ``_score`` row of one history in sparse form: the items the base,
        transitions or repeats reach, exactly; every other item the base's constant (0, or
        EASE's floor) plus the popularity term. None with the sequence term, which scores
        every item: the dense row is the request's then."""
        cfg = self.config
        if cfg.popularity_weight < 0 or self._sequence_on:
            return None  # the rule would not fall along the popularity order
        batch = one_user_batch(history, self.n_items, cfg.max_history)
        base_items, base, rest_const, base_part = self._base_row(batch, cfg.half_life_events)
        trans_items, trans, trans_part = (self._recent_row(batch) if cfg.transition_weight
                                          else (*_NONE, None))  # fmt: skip
        rep = (user_repeat_candidates(batch.items, batch.types(), self._excluded)
               if cfg.repeat_weight else None)  # fmt: skip
        rep_items = rep.items if rep is not None else _NONE[0]
        # base_items are ascending and distinct; the few others are appended after them
        extra = unique(np.concatenate([trans_items, rep_items]))
        extra = extra[~member(extra, base_items)]
        items = np.concatenate([base_items, extra])
        scores = np.full(items.size, rest_const, np.float32)
        scores[: base_items.size] = base
        if cfg.transition_weight:
            row = np.zeros(items.size, np.float32)
            row[_positions(base_items, extra, trans_items)] = trans
            scores += cfg.transition_weight * row
        if cfg.popularity_weight:
            scores += cfg.popularity_weight * self.popularity[items]
        rep_terms: np.ndarray = np.zeros(0, np.float32)
        if rep is not None and rep.items.size:
            where = _positions(base_items, extra, rep.items)
            rep_terms = cfg.repeat_weight * self.repeat.rates_of(rep)
            scores[where] += rep_terms
        order, ties = self._rest_order()
        explain = self._reasons(base_part, trans_part, rep_items, rep_terms)
        return UserScores(items, scores, order, self.popularity, rest_const,
                          cfg.popularity_weight, ties, explain)  # fmt: skip

    def _reasons(
        self, base: RowPart, trans: RowPart | None, rep_items: np.ndarray, rep_terms: np.ndarray
    ) -> HybridReasons:
        """The explainer of one request's scores (its arrays are computed only when called)."""
        cfg = self.config
        dense = bool(self.base_dense.size)
        return HybridReasons(base, self.base_dense if dense else self.base_sparse,
                             self._ease_positions() if dense else None, trans, self.transitions,
                             cfg.transition_weight, self.popularity, cfg.popularity_weight,
                             rep_items.astype(np.int64), rep_terms.astype(np.float64))  # fmt: skip

    def _base_row(
        self, batch: HistoryBatch, half_life: float | None
    ) -> tuple[np.ndarray, np.ndarray, float, RowPart]:
        """(items, row-normalised base scores, the normalised score of every other item, the
        row's history part for reasons)."""
        if not self.base_dense.size:
            hist_items, hist_values = history_row(batch, self.n_items, half_life)
            cols, sums, entries = sparse_row_sums(hist_items, hist_values, self.base_sparse)
            part = RowPart(hist_items, hist_values, sums, entries)
            return cols, _row_normalised(sums[None, :])[0], 0.0, part
        hist_items, hist_values = history_row(batch, self.n_items, half_life, binary=True)
        pos = self._ease_positions()[hist_items]
        keep = pos >= 0
        active = _history_product(hist_values[keep], pos[keep], self.base_dense)
        floor = active.min(axis=1, keepdims=True) if active.size else np.zeros((1, 1), np.float32)
        raw = np.concatenate([active, floor], axis=1)
        row = _row_normalised(raw)[0]
        part = RowPart(hist_items, hist_values, raw)
        return self.base_items.astype(np.int64), row[:-1], float(row[-1]), part

    def _recent_row(self, batch: HistoryBatch) -> tuple[np.ndarray, np.ndarray, RowPart]:
        """``_recent_scores`` of one history over the transitions, as (items, normalised). The
        last few events weigh 1, 1/2, 1/4...: their sums per item are exact in any order, and
        the batch product's zero entries (older events) add +0, so they are left out."""
        last = self.config.last_items
        recent = batch.items[-last:].tolist() if last > 0 else []
        weights: dict[int, float] = {}
        for back, item in enumerate(reversed(recent)):
            weights[item] = weights.get(item, 0.0) + 2.0**-back
        items = np.array(sorted(weights), np.int64)
        values = np.array([weights[i] for i in sorted(weights)], np.float32)
        cols, sums, entries = sparse_row_sums(items, values, self.transitions)
        return cols, _row_normalised(sums[None, :])[0], RowPart(items, values, sums, entries)

    def _ease_positions(self) -> np.ndarray:
        """Position of each item in ``base_items`` (-1 outside), built once per model."""
        cached = self._one_user_cache.get("ease")
        if cached is None or cached[0] is not self.base_items:
            pos = np.full(self.n_items, -1, np.int64)
            pos[self.base_items] = np.arange(self.base_items.size)
            cached = self._one_user_cache["ease"] = (self.base_items, pos)
        return cached[1]

    def _rest_order(self) -> tuple[np.ndarray, bool]:
        """Items by descending popularity (ties by index), built once per model; with no
        popularity term every other item scores the same and index order is exact on ties."""
        flat = not self.config.popularity_weight
        cached = self._one_user_cache.get("flat" if flat else "order")
        if cached is None or cached[0] is not self.popularity:
            order = (np.arange(self.n_items) if flat else
                     np.lexsort((np.arange(self.popularity.size), -self.popularity)))  # fmt: skip
            cached = (self.popularity, order.astype(np.int64))
            self._one_user_cache["flat" if flat else "order"] = cached
        return cached[1], flat

    # -- persistence ------------------------------------------------------------------------
    def _arrays(self) -> dict[str, np.ndarray]:
        t, b = self.transitions, self.base_sparse
        return {
            "base_dense": self.base_dense,
            "base_items": self.base_items,
            "base_indptr": b.indptr,
            "base_indices": b.indices,
            "base_data": b.data,
            "trans_indptr": t.indptr,
            "trans_indices": t.indices,
            "trans_data": t.data,
            "popularity": self.popularity,
            "repeat_rates": self.repeat.table,
        } | (hybrid_sequence.sequence_arrays(self.sequence) if self.sequence is not None else {})

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        n = self.n_items
        self.base_dense = np.ascontiguousarray(arrays["base_dense"])
        self.base_items = arrays["base_items"]
        b_shape = (n, n) if arrays["base_indptr"].size == n + 1 else (0, 0)
        self.base_sparse = sp.csr_matrix(
            (arrays["base_data"], arrays["base_indices"], arrays["base_indptr"]), shape=b_shape
        )
        self.transitions = sp.csr_matrix(
            (arrays["trans_data"], arrays["trans_indices"], arrays["trans_indptr"]), shape=(n, n)
        )
        self.popularity = arrays["popularity"]
        if "repeat_rates" in arrays:
            self.repeat = RepeatRates(arrays["repeat_rates"])
        self.sequence = hybrid_sequence.restore(arrays, n)


@dataclass(frozen=True)
class _Fold:
    """One validation set with every blend component scored for it, from its own fit."""

    val: _Validation
    bases: dict[float | None, np.ndarray]  # row-normalised base scores per half-life
    trans: np.ndarray
    stream: np.ndarray
    repeat: np.ndarray
    priors: dict[Prior, np.ndarray]
    sequence: np.ndarray | None = None  # the sequence model's shifted logits, where it has one

    @classmethod
    def of(
        cls,
        model: Hybrid,
        val: _Validation,
        stream: sp.csr_matrix,
        fit_part: Interactions,
        grid: _Grid,
    ) -> _Fold:
        batch = val.batch
        return cls(
            val,
            {hl: _row_normalised(model._base_scores(batch, hl)) for hl in grid.half_lives},
            _row_normalised(model._recent_scores(batch, model.transitions)),
            _row_normalised(model._recent_scores(batch, stream)),
            model._repeat_scores(batch),
            {kind: model._prior(fit_part, kind) for kind in _PRIORS},
        )

    def gains(self, cfg: HybridConfig) -> np.ndarray:
        scores = self.bases[cfg.half_life_events] + cfg.transition_weight * self.trans
        if cfg.repeat_weight:
            scores += cfg.repeat_weight * self.repeat
        if cfg.stream_weight:
            scores += cfg.stream_weight * self.stream
        scores += cfg.popularity_weight * self.priors[cfg.prior]
        if cfg.sequence_weight and self.sequence is not None:
            temperature = cfg.sequence_temperature
            scores += cfg.sequence_weight * hybrid_sequence.term(self.sequence, temperature)
        scores[self.val.excluded] = -np.inf
        return _ndcg_gains(scores, self.val.targets)


class _GridSearch:
    """Coordinate search over the blend on the validation folds (per-case gains pooled):
    (half-life, transition, prior weights) on a full grid with no repeat or stream signal, then
    passes over the repeat weight, the stream weight, (transition, prior weights) and the
    half-life in turn, each taking its best value with the others fixed, until a pass changes
    nothing (at most _ROUNDS); the alternative prior last, adopted only when clearly better.

    One pass is not enough: the transition and prior weights of the first grid were chosen to
    do the repeat signal's work too, so the repeat weight first chosen next to them is too
    large for the lighter weights they settle on once it is there (on session data one pass
    left it at the grid's top, four times what the next pass chooses)."""

    def __init__(self, model: Hybrid, folds: list[_Fold]) -> None:
        self.model, self.folds = model, folds
        self.best = model.config
        self.best_gains = np.full(sum(f.val.targets.size for f in folds), -1.0)

    def gains(self, cfg: HybridConfig) -> np.ndarray:
        return np.concatenate([fold.gains(cfg) for fold in self.folds])

    def consider(self, cfg: HybridConfig, clearly: bool = False) -> None:
        gains = self.gains(cfg)
        better = (
            _clearly_better(gains, self.best_gains)
            if clearly
            else gains.mean() > self.best_gains.mean() + 1e-9
        )
        if better:
            self.best, self.best_gains = cfg, gains

    def run(self, grid: _Grid) -> HybridConfig:
        start = replace(self.best, prior=_PRIORS[0], repeat_weight=0.0, stream_weight=0.0,
                        sequence_weight=0.0)  # fmt: skip
        for hl, tw, pw in itertools.product(
            grid.half_lives, grid.transition_weights, grid.popularity_weights
        ):
            self.consider(replace(start, half_life_events=hl, transition_weight=tw,
                                  popularity_weight=pw))  # fmt: skip
        passes = 0
        while passes < _ROUNDS:
            before = self.best
            self._pass(grid)
            passes += 1
            if self.best == before:
                break
        for kind, pw in itertools.product(_PRIORS[1:], grid.popularity_weights):
            self.consider(replace(self.best, prior=kind, popularity_weight=pw), clearly=True)
        self.model.metadata["validation_ndcg@10"] = round(float(self.best_gains.mean()), 5)
        self.model.metadata["tuning_passes"] = passes
        return self.best

    def _sequence_pass(self, grid: _Grid) -> None:
        """The sequence term's weight and temperature; switching it on from 0 needs a paired
        gain of more than one standard error, so data where it does not clearly help keeps
        the hybrid as it was."""
        for temp, qw in itertools.product(grid.sequence_temperatures, grid.sequence_weights):
            switch_on = qw > 0 and not self.best.sequence_weight
            cfg = replace(self.best, sequence_weight=qw, sequence_temperature=temp)
            self.consider(cfg, clearly=switch_on)

    def _pass(self, grid: _Grid) -> None:
        """Each weight in turn takes its best value with the others fixed (a signal no fold
        has keeps weight 0)."""
        if any(fold.repeat.any() for fold in self.folds):
            for rw in grid.repeat_weights:
                self.consider(replace(self.best, repeat_weight=rw))
        if any(fold.stream.any() for fold in self.folds):
            for sw in grid.stream_weights:
                self.consider(replace(self.best, stream_weight=sw))
        if all(fold.sequence is not None for fold in self.folds):
            self._sequence_pass(grid)
        for tw, pw in itertools.product(grid.transition_weights, grid.popularity_weights):
            self.consider(replace(self.best, transition_weight=tw, popularity_weight=pw))
        for hl in grid.half_lives:
            self.consider(replace(self.best, half_life_events=hl))


def _positions(first: np.ndarray, then: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Where each of ``values`` sits in ``concatenate([first, then])``, both ascending and
    distinct, every value in one of them."""
    pos = np.searchsorted(first, values)
    inside = first[pos.clip(max=max(first.size - 1, 0))] == values if first.size else pos < 0
    return np.where(inside, pos, first.size + np.searchsorted(then, values))


@functools.lru_cache(maxsize=16)
def _type_codes(names: tuple[str, ...]) -> frozenset[int]:
    return type_codes_of(names)  # per request otherwise: ~4% of a request's scoring


def _scaled(values: np.ndarray) -> np.ndarray:
    """float32 copy divided by its maximum (all zeros stay zeros)."""
    return (values / max(float(values.max(initial=0.0)), 1e-9)).astype(np.float32)


def _history_product(values: np.ndarray, rows: np.ndarray, dense: np.ndarray) -> np.ndarray:
    """``values @ dense[rows]`` as a (1, columns) float32 row, summed in the history's order as
    the batch path's sparse product sums it (so both give the same bits): scipy's own kernel
    for a one-row CSR matrix times a dense one, called without building the sparse matrix
    (30 us against 74 us through ``csr_matrix @`` for a 106-item history on 1,682 items)."""
    if rows.size and _row_kernel_fits(values, dense):
        out = np.zeros(dense.shape[1], np.float32)
        indptr = np.array([0, rows.size], np.int32)
        _csr_matvecs(1, dense.shape[0], dense.shape[1], indptr, rows.astype(np.int32),
                     values, dense.reshape(-1), out)  # fmt: skip
        return out[None, :]
    hist = sp.csr_matrix((values, rows, np.array([0, rows.size])), shape=(1, dense.shape[0]))
    return np.asarray(hist @ dense, dtype=np.float32)


def _row_kernel_fits(values: np.ndarray, dense: np.ndarray) -> bool:
    """Whether ``_csr_matvecs`` takes these arrays as they are (float32 throughout, C order,
    32-bit indices), as ``csr_matrix @`` would hand them to it."""
    return (
        _csr_matvecs is not None
        and values.dtype == np.float32
        and dense.dtype == np.float32
        and dense.flags.c_contiguous
        and dense.size < 2**31
    )


def _row_normalised(scores: np.ndarray) -> np.ndarray:
    """Each row divided by its largest absolute value, so blend weights are scale-free."""
    peak = np.abs(scores).max(axis=1, keepdims=True) if scores.size else scores
    return np.asarray(scores / np.maximum(peak, 1e-9), dtype=np.float32)


def _ndcg_gains(scores: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """NDCG@10 of each row, one target per row (targets outside the catalogue are misses)."""
    gains = np.zeros(scores.shape[0])
    known = np.flatnonzero((targets >= 0) & (targets < scores.shape[1]))
    target_scores = scores[known, targets[known]]
    rank = (scores[known] > target_scores[:, None]).sum(axis=1) + 1
    hit = (rank <= 10) & np.isfinite(target_scores)
    gains[known] = np.where(hit, 1.0 / np.log2(rank + 1), 0.0)
    return gains


def _clearly_better(challenger: np.ndarray, incumbent: np.ndarray) -> bool:
    """Paired test on per-user gains: the mean gain exceeds one standard error of it, so a
    switch away from the default needs evidence, not a lucky handful of validation users."""
    diff = challenger - incumbent
    return bool(diff.mean() > diff.std() / np.sqrt(max(1, diff.size)))
