"""Request-path latency of the recommendation service at 100,000 items (issue 3).

Measures ``RecommendationService.recommend`` in-process (no HTTP: the HTTP overhead is the API
benchmark's business) next to its limit, the raw ``model.score`` of the same histories, for:
plain requests, requests with an Items filter, with an Interactions filter, and similar items.

    .venv/bin/python -m benchmarks.serving_path [--items 100000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from streamrec.catalogue import Item
from streamrec.config import Settings
from streamrec.events import Event
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from streamrec.synthetic import generate_catalogue, generate_interactions
from streamrec.training.interactions import encode_events


@dataclasses.dataclass
class Active:
    version: str
    recipe: str
    model: Recommender


class Registry:
    def __init__(self, active: Active) -> None:
        self._active = active

    def active(self, campaign: str) -> Active:
        return self._active


def percentiles(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1000
    return f"p50 {np.percentile(ms, 50):.2f} ms  p99 {np.percentile(ms, 99):.2f} ms  (n={ms.size})"


def timed(label: str, calls: list[Callable[[], object]]) -> None:
    """Wall time, and this thread's CPU time: on a shared 2-core machine the wall time also
    counts waiting for a core, the CPU time only the work itself."""
    for call in calls[:20]:
        call()  # warm-up: caches, index build
    wall, cpu = [], []
    for call in calls:
        start, start_cpu = time.perf_counter(), time.thread_time()
        call()
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    print(f"{label:<38} wall {percentiles(wall)} | cpu {percentiles(cpu)}")


def load_catalogue(runtime: Runtime, n_items: int) -> None:
    table = generate_catalogue(n_items, seed=1).to_pylist()
    items = [
        Item(
            r["item_id"], r["title"], tuple(r["categories"]), {"price": r["price"]}, r["created_at"]
        )
        for r in table
    ]
    for start in range(0, len(items), 5000):
        runtime.catalogue.upsert(items[start : start + 5000])


def fit_model(table: object, recipe: str) -> Recommender:
    encoded = encode_events(table)  # type: ignore[arg-type]
    model: Recommender = ItemKNN(k=100) if recipe == "item-knn" else Hybrid()
    started = time.perf_counter()
    model.fit(encoded.interactions())
    print(f"{recipe} fit on {len(encoded.user)} events: {time.perf_counter() - started:.1f} s")
    model.item_vocab = encoded.items
    return model


def stream_events(runtime: Runtime, table: object, n_stream: int) -> list[str]:
    rows = table.slice(table.num_rows - n_stream).to_pylist()  # type: ignore[attr-defined]
    now = time.time()
    events = [
        Event(f"e{k}", r["user_id"], r["item_id"], now - 60 + k * 1e-5, now - 60 + k * 1e-5,
              r["event_type"], session_id=r["session_id"])
        for k, r in enumerate(rows)
    ]  # fmt: skip
    started = time.perf_counter()
    for start in range(0, len(events), 10_000):
        runtime.event_log.append(events[start : start + 10_000])
    runtime.make_runner("realtime").drain()
    print(f"stream + realtime consumer, {n_stream} events: {time.perf_counter() - started:.1f} s")
    return sorted({e.user_id for e in events})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--stream", type=int, default=200_000)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--recipe", choices=("item-knn", "hybrid"), default="item-knn")
    parser.add_argument("--exploration", type=float, default=0.1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp), datalake=False, exploration_weight=args.exploration)
        runtime = Runtime(settings)
        load_catalogue(runtime, args.items)
        table = generate_interactions(args.items // 5, args.items, args.events, seed=1)
        model = fit_model(table, args.recipe)
        runtime.models = Registry(Active("bench", args.recipe, model))  # type: ignore[attr-defined]
        users = stream_events(runtime, table, args.stream)
        rng = np.random.default_rng(0)
        picked = [str(u) for u in rng.choice(users, args.requests)]
        service = runtime.recommendations
        histories = [
            UserHistory.of(model.item_vocab.indices([e.item_id for e in service.events(u, None)]))  # type: ignore[union-attr]
            for u in picked
        ]
        timed("model.score (the limit)", [lambda h=h: model.score([h]) for h in histories])
        timed(
            "model.recommend_user n=10",
            [lambda h=h: model.recommend_user(h, 10) for h in histories],
        )
        timed("recommend n=10", [lambda u=u: service.recommend(u, 10) for u in picked])
        service.one_user_path = False
        timed("recommend n=10, dense path", [lambda u=u: service.recommend(u, 10) for u in picked])
        service.one_user_path = True
        cat = 'INCLUDE ItemID WHERE Items.categories IN ("Books", "Music") AND Items.price < 30'
        timed(
            "recommend + Items filter",
            [lambda u=u: service.recommend(u, 10, filter_text=cat) for u in picked],
        )
        inter = 'EXCLUDE ItemID WHERE Interactions.event_type IN ("view")'
        timed(
            "recommend + Interactions filter",
            [lambda u=u: service.recommend(u, 10, filter_text=inter) for u in picked],
        )
        timed(
            "recommend + decorate (response body)",
            [lambda u=u: service.decorate(service.recommend(u, 10)) for u in picked],
        )
        some = [f"item-{k}" for k in rng.integers(0, args.items, args.requests)]
        timed("similar n=10", [lambda i=i: service.similar(i, 10) for i in some])
        timed("popular n=10", [lambda: service.popular_items(10)] * args.requests)
        runtime.close()


if __name__ == "__main__":
    main()
