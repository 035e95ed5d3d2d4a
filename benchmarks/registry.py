"""Timings moved out of the unit tests (they made CI flaky on a busy 2-core machine): how fast a
campaign switch reaches a second registry, what ``ModelRegistry.active`` costs between refreshes,
and how long generating a million synthetic events takes. Each figure is the median of several
runs with its spread (min-max).

Run: ``.venv/bin/python -m benchmarks.registry`` (not part of ``make bench``'s sections).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from streamrec.config import Settings
from streamrec.models.registry import ModelRegistry
from streamrec.recommenders import Recommender, Vocabulary, create
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events

REPEATS = 7


def small_model() -> Recommender:
    encoded = encode_events(generate_interactions(n_users=60, n_items=40, n_events=1500, seed=3))
    model = create("item-knn")
    model.fit(encoded.interactions())
    model.item_vocab = Vocabulary(encoded.items.ids())
    return model


def switch_seconds(admin: ModelRegistry, server: ModelRegistry, model: Recommender) -> float:
    version = admin.save(model, {"metrics": {"ndcg@10": 0.1}})
    started = time.monotonic()
    admin.set_campaign("default", version)
    while (active := server.active("default")) is None or active.version != version:
        time.sleep(0.001)
    return time.monotonic() - started


def active_call_us(registry: ModelRegistry, calls: int = 10_000) -> float:
    started = time.perf_counter()
    for _ in range(calls):
        registry.active("default")
    return (time.perf_counter() - started) / calls * 1e6


def generate_seconds() -> float:
    started = time.perf_counter()
    generate_interactions(20_000, 100_000, 1_000_000, seed=0)
    return time.perf_counter() - started


def report(name: str, unit: str, runs: Callable[[], float]) -> None:
    values = [runs() for _ in range(REPEATS)]
    print(
        f"{name}: median {statistics.median(values):.4g} {unit}"
        f" (min {min(values):.4g}, max {max(values):.4g}, n={len(values)})"
    )


def main() -> None:
    model = small_model()
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        admin, server = ModelRegistry(settings), ModelRegistry(settings, refresh_s=0.2)
        report("campaign switch seen by a 2nd registry (refresh 0.2 s)", "s",
               lambda: switch_seconds(admin, server, model))  # fmt: skip
        slow = ModelRegistry(settings, refresh_s=60.0)
        slow.active("default")
        report("ModelRegistry.active between refreshes", "us/call", lambda: active_call_us(slow))
    report("generate_interactions, 1M events", "s", generate_seconds)


if __name__ == "__main__":
    main()
