"""Fitting the ``sequential`` recipe within its time budget (see ``sequential.py``).

Imported only by ``Sequential._fit``, with the JAX training module passed in, so that nothing
here needs JAX at import time and the search logic stays separate from the network.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from types import ModuleType
from typing import Any

import numpy as np

from streamrec.recommenders.data import Interactions
from streamrec.recommenders.sparse import (
    STREAM_NEIGHBOURS,
    STREAM_PAIR_GAP_S,
    consecutive_cooccurrence,
)

__all__ = ["Sequences", "fit_sequential", "sequences_of"]

K = 10
# Of the time budget, the share of the first candidate: on a busy 2-core machine an equal third
# each gave 3 to 7 epochs on MovieLens 100K, too few for any of them to show what it can do.
FIRST_SHARE = 0.5


@dataclass(frozen=True)
class _Candidate:
    config: Any  # SequentialConfig
    weights: dict[str, np.ndarray]
    score: float
    epochs: int


@dataclass(frozen=True)
class Sequences:
    """Each user's items in time order and their timestamps (users with two events or more:
    one input, one target)."""

    items: list[np.ndarray]
    timestamps: list[np.ndarray]


def sequences_of(interactions: Interactions) -> Sequences:
    batch = interactions.histories()
    bounds = [
        (a, b) for a, b in zip(batch.indptr[:-1], batch.indptr[1:], strict=True) if b - a >= 2
    ]
    return Sequences(
        [batch.items[a:b].astype(np.int64) for a, b in bounds],
        [batch.timestamps[a:b] for a, b in bounds],
    )


def _train(sj: ModuleType, arch: Any, sequences: Sequences, schedule: Any, seed: int) -> Any:
    return sj.train_weights(arch, sequences.items, schedule, seed, sequences.timestamps)


def _architecture(sj: ModuleType, config: Any, n_items: int) -> Any:
    return sj.Architecture(n_items, config.dim, config.max_len, config.n_blocks, config.n_heads,
                           config.dropout)  # fmt: skip


def _negatives(config: Any, n_items: int) -> int:
    """0 for the full softmax; else how many sampled negatives."""
    if config.loss == "softmax":
        return 0
    if config.loss == "sampled":
        return int(config.n_negatives)
    from streamrec.recommenders.sequential import FULL_SOFTMAX_CELLS

    cells = config.batch_size * config.max_len * n_items
    return 0 if cells <= FULL_SOFTMAX_CELLS else int(config.n_negatives)


Members = list[dict[str, np.ndarray]]


def fit_sequential(
    config: Any, interactions: Interactions, sj: ModuleType, started: float
) -> tuple[Any, Members, dict[str, Any]]:
    """(the chosen config, its members' weights, what happened) for ``interactions``."""
    from streamrec.recommenders.tuning import validation_split

    budget = float(config.train_time_budget_s)
    validation = validation_split(interactions, seed=config.seed) if config.tune else None
    if validation is None:
        schedule = sj.Schedule(config.epochs, budget - _elapsed(started), config.batch_size,
                               config.learning_rate, _negatives(config, interactions.n_items),
                               random_cuts=config.random_cuts,
                               shuffle_ties=config.shuffle_ties)  # fmt: skip
        arch = _architecture(sj, config, interactions.n_items)
        result = _train(sj, arch, sequences_of(interactions), schedule, config.seed)
        why = "not tuned" if not config.tune else "too few validation cases: defaults kept"
        return config, [result.weights], {"tuning": why, "epochs": result.epochs,
                                          "seconds": round(result.seconds, 2)}  # fmt: skip
    members_wanted = max(1, int(config.members))
    best, tried = _search(config, validation, sj, started, budget / members_wanted)
    members, score, grown = _more_members(best, members_wanted, validation, sj, started, budget)
    stream_weight, stream_scores = _tune_stream(best.config, members, validation)
    chosen = replace(best.config, stream_weight=stream_weight, epochs=best.epochs,
                     members=len(members))  # fmt: skip
    info = {"tuning": "validation", "validation_users": int(validation.users.size),
            "candidates": tried, "members": grown, "validation_ndcg@10": round(score, 5),
            "stream_weights": stream_scores}  # fmt: skip
    return chosen, members, info


def _elapsed(started: float) -> float:
    return time.perf_counter() - started


def _search(
    config: Any, validation: Any, sj: ModuleType, started: float, search_budget: float
) -> tuple[_Candidate, list[dict[str, Any]]]:
    """Each of the first ``config.candidates`` of CANDIDATES trained on the validation fit with
    early stopping, while the budget lasts: the first (the likeliest) gets FIRST_SHARE of it
    (all of it when it is the only one), each later one an equal share of what is left, so time
    one leaves by stopping early passes to the next; the best by validation NDCG@10."""
    from streamrec.recommenders.sequential import CANDIDATES

    sequences = sequences_of(validation.fit)
    best: _Candidate | None = None
    tried: list[dict[str, Any]] = []
    candidates = CANDIDATES[: max(1, int(config.candidates))]
    for i, (dim, max_len, dropout) in enumerate(candidates):
        left = search_budget - _elapsed(started)
        if best is not None and left <= 0:
            break
        cand = replace(config, dim=dim, max_len=max_len, dropout=dropout)
        first = i == 0 and len(candidates) > 1
        share = max(left * (FIRST_SHARE if first else 1.0 / (len(candidates) - i)), 1.0)
        found = _train_candidate(cand, validation, sequences, sj, share)
        tried.append({"dim": dim, "max_len": max_len, "dropout": dropout,
                      "epochs": found.epochs, "validation_ndcg@10": round(found.score, 5)})  # fmt: skip
        if best is None or found.score > best.score:
            best = found
    assert best is not None
    return best, tried


def _more_members(
    best: _Candidate,
    wanted: int,
    validation: Any,
    sj: ModuleType,
    started: float,
    budget: float,
) -> tuple[Members, float, list[dict[str, Any]]]:
    """The winner's weights plus up to ``wanted - 1`` more members: the winner's config trained
    from the next seeds, each with an equal share of the budget left and early stopping; one is
    kept where the members' mean logits score at least the validation NDCG@10 of those before.
    (the members, their validation NDCG@10, what each trial gave)."""
    members, score = [best.weights], best.score
    grown: list[dict[str, Any]] = [{"seed": best.config.seed, "epochs": best.epochs,
                                    "validation_ndcg@10": round(score, 5), "kept": True}]  # fmt: skip
    sequences = sequences_of(validation.fit)
    for k in range(1, wanted):
        left = budget - _elapsed(started)
        if left <= 0:
            break
        seed = best.config.seed + k
        found = _train_candidate(replace(best.config, seed=seed), validation, sequences, sj,
                                 left / (wanted - k))  # fmt: skip
        trial = [*members, found.weights]
        together = _validation_ndcg(best.config, trial, validation)
        kept = together >= score
        grown.append({"seed": seed, "epochs": found.epochs, "validation_ndcg@10":
                      round(found.score, 5), "with_the_others": round(together, 5), "kept": kept})  # fmt: skip
        if kept:
            members, score = trial, together
    return members, score, grown


def _train_candidate(
    config: Any, validation: Any, sequences: Sequences, sj: ModuleType, budget: float
) -> _Candidate:
    n_items = validation.fit.n_items
    schedule = sj.Schedule(config.epochs, budget, config.batch_size, config.learning_rate,
                           _negatives(config, n_items),
                           evaluate=lambda w: _validation_ndcg(config, [w], validation),
                           random_cuts=config.random_cuts,
                           shuffle_ties=config.shuffle_ties)  # fmt: skip
    result = _train(sj, _architecture(sj, config, n_items), sequences, schedule, config.seed)
    score = max((s for _, s in result.history), default=0.0)
    return _Candidate(config, result.weights, score, result.epochs)


def _model(config: Any, members: Members, n_items: int) -> Any:
    from streamrec.recommenders.sequential import Sequential

    model = Sequential(**{**config.__dict__, "tune": False})
    model.n_items = n_items
    model._set_members(members)
    return model


def _validation_ndcg(config: Any, members: Members, validation: Any) -> float:
    from streamrec.recommenders.tuning import validation_ndcg

    return float(validation_ndcg(_model(config, members, validation.fit.n_items), validation))


def _tune_stream(config: Any, members: Members, validation: Any) -> tuple[float, dict[str, float]]:
    """The stream term's weight with the best validation NDCG@10 (the smallest of equals): the
    service adds the stream's co-occurrence of the last events, as ``stream_rows`` computes it."""
    from streamrec.recommenders.sequential import STREAM_WEIGHTS, stream_rows
    from streamrec.training.metrics import ndcg

    model = _model(config, members, validation.fit.n_items)
    batch = validation.histories()
    scores = model.score(batch)
    stream = consecutive_cooccurrence(validation.fit, STREAM_PAIR_GAP_S, STREAM_NEIGHBOURS)
    extra = stream_rows(batch, stream, config.last_items)
    scores[batch.rows(), batch.items] = -np.inf
    results: dict[str, float] = {}
    for weight in STREAM_WEIGHTS:
        blended = scores + weight * extra
        top = np.argsort(-blended, axis=1, kind="stable")[:, :K]
        results[str(weight)] = round(float(ndcg(top, validation.targets)), 5)
    chosen = max(STREAM_WEIGHTS, key=lambda w: (results[str(w)], -w))
    return chosen, results
