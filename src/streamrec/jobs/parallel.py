"""recommend-batch on several cores: the parent builds the serving state once (model, stream
state, catalogue index), then forks workers that inherit it and score chunks of users in
parallel; the parent appends their answers in order, so the output and its resumption are those
of the one-process job (:func:`streamrec.jobs.recommend_batch.write_chunks`).

A forked worker must not use its parent's SQLite connections: it opens its own user-state store
and catalogue (:func:`_own_connections`) before its first chunk.
"""

from __future__ import annotations

import dataclasses
import gc
import multiprocessing
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from streamrec.catalogue import open_catalogue
from streamrec.config import Settings
from streamrec.filters import ParamValue
from streamrec.jobs.recommend_batch import BatchOutcome, answer_lines, write_chunks
from streamrec.serving.batch import BatchScorer
from streamrec.serving.service import RecommendationService
from streamrec.stores import open_user_state_store

__all__ = ["PARALLEL_CHUNK", "chunk_of", "recommend_batch_parallel"]

PARALLEL_CHUNK = 200  # users a worker answers at a time at most (the scorer may split it further)
# Chunks per worker at least: with 943 users in 200-user chunks, one of two workers had 3 chunks
# to do and the other 2, and the job waited on the first.
CHUNKS_PER_WORKER = 4


@dataclasses.dataclass
class _Job:
    service: RecommendationService
    settings: Settings
    n: int
    filter_text: str | None
    filter_params: Mapping[str, ParamValue] | None
    scorer: BatchScorer


_job: _Job | None = None  # set in the parent before the fork; the workers inherit it


def _own_connections() -> None:
    assert _job is not None
    service = _job.service
    service.user_state = open_user_state_store(_job.settings)
    service.catalogue.catalogue = open_catalogue(_job.settings)


def _answer(chunk: Sequence[str]) -> bytes:
    assert _job is not None
    job = _job
    return answer_lines(job.service, job.scorer, chunk, job.n, job.filter_text, job.filter_params)


def recommend_batch_parallel(
    service: RecommendationService,
    settings: Settings,
    users: Sequence[str],
    out: Path,
    n: int,
    workers: int,
    filter_text: str | None = None,
    filter_params: Mapping[str, ParamValue] | None = None,
    progress: Callable[[int], None] = lambda done: None,
) -> BatchOutcome:
    """``recommend_batch`` with ``workers`` forked processes scoring (Linux and macOS)."""
    global _job
    scorer = BatchScorer(service)
    if users:  # load the model, the catalogue index and the filter once, before the fork
        scorer.recommend(users[:1], n, filter_text, filter_params)
    _job = _Job(service, settings, n, filter_text, filter_params, scorer)
    # the serving state out of the collector's sight: its passes in a worker would write to the
    # pages of every object the worker shares with this process (and copy them)
    gc.freeze()
    try:
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_own_connections) as pool:
            return write_chunks(
                users, out, lambda todo: chunk_of(todo, workers),
                lambda f, chunks: pool.imap(f, chunks), _answer, progress,
            )  # fmt: skip
    finally:
        _job = None
        gc.unfreeze()


def chunk_of(todo: int, workers: int) -> int:
    """Users per chunk: ``CHUNKS_PER_WORKER`` chunks for each worker, at most ``PARALLEL_CHUNK``."""
    return max(1, min(PARALLEL_CHUNK, -(-todo // (workers * CHUNKS_PER_WORKER))))
