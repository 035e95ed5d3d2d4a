"""The default recipe at catalogue scale: training time and raw scoring latency.

Usage: .venv/bin/python -m benchmarks.hybrid_scale [--items 100000] [--events 1000000]
Fits ``hybrid`` on synthetic events over a catalogue of ``--items`` items, then times
``recommend`` for one user with a 200-event history (what the real-time store keeps).
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

from streamrec.recommenders.data import Interactions, UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events

HISTORY = 200


def catalogue_interactions(n_items: int, n_events: int, seed: int) -> Interactions:
    """Synthetic events, with the model's catalogue sized to ``n_items`` even where some items
    drew no event (so scoring covers the whole catalogue)."""
    table = generate_interactions(n_users=n_events // 20, n_items=n_items, n_events=n_events,
                                  seed=seed)  # fmt: skip
    i = encode_events(table).interactions()
    n = max(n_items, i.n_items)
    return Interactions(i.user, i.item, i.weight, i.timestamp, i.event_type, i.n_users, n)


def scoring_ms(model: Hybrid, n_calls: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    times = np.empty(n_calls)
    for call in range(n_calls):
        items = rng.integers(0, model.n_items, HISTORY)
        history = UserHistory.of(items, None, np.arange(float(HISTORY)))
        started = time.perf_counter()
        model.recommend([history], n=10)
        times[call] = (time.perf_counter() - started) * 1000.0
    return times


def measure(n_items: int, n_events: int, n_calls: int) -> str:
    """One Markdown-ready line: fit time (and how it tuned), scoring percentiles, machine load."""
    interactions = catalogue_interactions(n_items, n_events, seed=0)
    model = Hybrid()
    started = time.perf_counter()
    model.fit(interactions)
    fit_s = time.perf_counter() - started
    ms = scoring_ms(model, n_calls, seed=1)
    p50, p90, p99 = np.percentile(ms, [50, 90, 99])
    return (
        f"hybrid on {len(interactions):,} synthetic events, {interactions.n_items:,} items: "
        f"training {fit_s:.1f} s ({model.metadata.get('tuning')}); scoring one "
        f"{HISTORY}-event history ({n_calls} calls): p50 {p50:.2f} ms, p90 {p90:.2f} ms, "
        f"p99 {p99:.2f} ms; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    print(measure(args.items, args.events, args.calls))


if __name__ == "__main__":
    main()
