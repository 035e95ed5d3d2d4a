"""Per-request time of ``RecommendationService.recommend`` + ``decorate`` (the one-user path of
the default recipe) on MovieLens 100K, with and without the items' reasons.

Every event goes through the stream into the user-state store, a hybrid is trained on all of them
(both kept in WORK_DIR for the next run), then the median wall time per call for the first 300
users, n=10, one BLAS thread. Where the checkout computes reasons, calls alternate between the
service as it is and the service with the reasons' three steps skipped, in the same process, so
the machine's load falls on both alike; times are the thread's CPU time (steadier than wall
time on a shared machine). Run it against another checkout with
PYTHONPATH=<checkout>/src to compare checkouts.

    python benchmarks/reasons_latency.py /work/shared/datasets/movielens-100k WORK_DIR
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from threadpoolctl import threadpool_limits

import streamrec
from streamrec.config import Settings
from streamrec.datasets import load_movielens
from streamrec.events import Event, new_event_id
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.persistence import load_model, save_model
from streamrec.runtime import Runtime
from streamrec.training.interactions import encode_events

ROUNDS, USERS, N = 5, 300, 10


@dataclass
class _Active:
    version: str
    recipe: str
    model: Recommender


class _Registry:
    def __init__(self, active: _Active) -> None:
        self.current = active

    def active(self, campaign: str) -> _Active:
        return self.current

    def loads_on_next_read(self, campaign: str) -> bool:
        return False


def _model(rows: Any, path: Path) -> Recommender:
    if path.exists():
        return load_model(path)
    encoded = encode_events(rows)
    model = Hybrid()
    model.fit(encoded.interactions())
    model.item_vocab = encoded.items
    save_model(model, path)
    return model


def _event(row: dict[str, Any]) -> Event:
    when = row["timestamp"]
    return Event(new_event_id(when), row["user_id"], row["item_id"], when, when,
                 row["event_type"], row["event_value"])  # fmt: skip


def _runtime(rows: list[dict[str, Any]], data_dir: Path) -> Runtime:
    fresh = not data_dir.exists()
    runtime = Runtime(Settings(data_dir=data_dir, stream_item_min_users=1))
    if fresh:
        events = [_event(r) for r in rows]
        for start in range(0, len(events), 5000):
            runtime.event_log.append(events[start : start + 5000])
    runtime.make_runner("realtime").drain()
    return runtime


def _without_reasons(service: Any) -> Callable[[bool], None]:
    """A switch that skips the reasons' steps (the model's, the stream's, the events')."""
    import streamrec.serving.service as module
    from streamrec.serving.reasons import StreamTerms

    kept = (service._model_reasons, service._stream_terms, module.personal_reasons)
    skipped = (
        lambda view, top, explain: module._unexplained(top.size),
        lambda items, blend, term, top: StreamTerms.none(top.size),
        lambda *args: [],
    )

    def switch(on: bool) -> None:
        model, stream, personal = kept if on else skipped
        service._model_reasons, service._stream_terms = model, stream
        module.personal_reasons = personal  # type: ignore[assignment]

    return switch


def main(dataset: Path, work_dir: Path) -> None:
    table = load_movielens(dataset)
    work_dir.mkdir(parents=True, exist_ok=True)
    model = _model(table, work_dir / "model")
    rows = table.to_pylist()
    runtime = _runtime(rows, work_dir / "data")
    runtime.models = _Registry(_Active("v1", "hybrid", model))  # type: ignore[assignment]
    service = runtime.recommendations
    users = sorted({r["user_id"] for r in rows})[:USERS]
    switch = _without_reasons(service) if hasattr(service, "_model_reasons") else None
    modes = ["with reasons", "reasons skipped"] if switch else ["as is"]
    times: dict[str, list[float]] = {mode: [] for mode in modes}
    with threadpool_limits(1):
        for user in users:
            service.decorate(service.recommend(user, N))
        for _ in range(ROUNDS):
            for user in users:  # the modes alternate call by call: the load falls on both alike
                for mode in modes:
                    if switch:
                        switch(mode == "with reasons")
                    started = time.thread_time_ns()
                    service.decorate(service.recommend(user, N))
                    times[mode].append((time.thread_time_ns() - started) / 1000)
    print(streamrec.__file__)
    for mode, calls in times.items():
        print(f"  {mode}: recommend+decorate {statistics.median(calls):.0f} us CPU per call, mean "
              f"{statistics.fmean(calls):.0f} us ({len(calls)} calls: {ROUNDS} rounds over "
              f"{len(users)} users)")  # fmt: skip
    if switch:
        pairs = zip(times["with reasons"], times["reasons skipped"], strict=True)
        extra = [a - b for a, b in pairs]
        print(f"  reasons add: median {statistics.median(extra):.0f} us per call (paired)")
    if switch:
        switch(True)
    last = service.recommend(users[0], N)
    print("  recipe:", last.recipe, [r.json() for r in getattr(last, "reasons", None) or []][:3])
    runtime.close()


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
