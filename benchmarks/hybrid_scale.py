"""The default recipe at catalogue scale: training time and raw scoring latency.

Usage: .venv/bin/python -m benchmarks.hybrid_scale [--items 100000] [--events 1000000]
       [--untuned] [--rounds 5]

Fits ``hybrid`` on synthetic events over a catalogue of ``--items`` items, then times the top 10
for one user, two ways: ``recommend([history])`` (the batch path: dense scores over every item,
what training and ``streamrec evaluate`` use) and ``recommend_user(history)`` (the one-user path a
request takes), for the training users' own histories (their last 200 events, as the real-time
store keeps) and for random 200-event histories. Each figure: the median over ``--rounds``
rounds of each round's p50, with the rounds' min - max; per-call times are this thread's CPU
time, so a shared machine's waiting for a core is not counted (the wall p50 is shown too).
``--untuned`` skips the validation search (every blend term on at fixed weights): the search
does not change what a request costs, and at 1,000,000 items it is most of the fit.
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable, Sequence

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.recommenders.data import Interactions, UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events

HISTORY = 200
USERS = 500  # histories timed per round
UNTUNED = {"transition_weight": 0.3, "popularity_weight": 0.05, "repeat_weight": 1.0,
           "stream_weight": 0.1}  # fmt: skip


def catalogue_interactions(n_items: int, n_events: int, seed: int) -> Interactions:
    """Synthetic events, with the model's catalogue sized to ``n_items`` even where some items
    drew no event (so scoring covers the whole catalogue)."""
    table = generate_interactions(n_users=n_events // 20, n_items=n_items, n_events=n_events,
                                  seed=seed)  # fmt: skip
    i = encode_events(table).interactions()
    n = max(n_items, i.n_items)
    return Interactions(i.user, i.item, i.weight, i.timestamp, i.event_type, i.n_users, n)


def user_histories(interactions: Interactions, count: int, seed: int) -> list[UserHistory]:
    """``count`` training users' last ``HISTORY`` events."""
    full = interactions.histories()
    rng = np.random.default_rng(seed)
    out = []
    for user in rng.choice(full.n_users, min(count, full.n_users), replace=False):
        lo, hi = int(full.indptr[user]), int(full.indptr[user + 1])
        lo = max(lo, hi - HISTORY)
        out.append(UserHistory(full.items[lo:hi], full.weights[lo:hi], full.timestamps[lo:hi],
                               full.types()[lo:hi]))  # fmt: skip
    return out


def random_histories(n_items: int, count: int, seed: int) -> list[UserHistory]:
    rng = np.random.default_rng(seed)
    return [
        UserHistory.of(rng.integers(0, n_items, HISTORY), None, np.arange(float(HISTORY)))
        for _ in range(count)
    ]


def round_p50(
    call: Callable[[UserHistory], object], histories: Sequence[UserHistory]
) -> tuple[float, float]:
    """(CPU p50, wall p50) in ms of one call per history."""
    cpu, wall = np.empty(len(histories)), np.empty(len(histories))
    for k, history in enumerate(histories):
        started, started_cpu = time.perf_counter(), time.thread_time()
        call(history)
        cpu[k], wall[k] = time.thread_time() - started_cpu, time.perf_counter() - started
    return 1000.0 * float(np.median(cpu)), 1000.0 * float(np.median(wall))


def timings(model: Hybrid, histories: Sequence[UserHistory], rounds: int) -> dict[str, str]:
    """Per path: 'median p50 (min - max over rounds), wall p50 median' in ms."""
    paths: dict[str, Callable[[UserHistory], object]] = {
        "batch path recommend([h])": lambda h: model.recommend([h], n=10),
        "one-user path recommend_user(h)": lambda h: model.recommend_user(h, n=10),
    }
    out = {}
    with threadpool_limits(1):  # as `streamrec serve` runs
        for name, call in paths.items():
            for history in histories[:20]:
                call(history)  # warm-up: caches built once per model
            got = [round_p50(call, histories) for _ in range(rounds)]
            cpu = [g[0] for g in got]
            wall = float(np.median([g[1] for g in got]))
            out[name] = (f"p50 {np.median(cpu):.3f} ms ({min(cpu):.3f} - {max(cpu):.3f} over "
                         f"{rounds} rounds; wall p50 {wall:.3f} ms)")  # fmt: skip
    return out


def fitted(n_items: int, n_events: int, untuned: bool) -> tuple[Hybrid, Interactions, float]:
    interactions = catalogue_interactions(n_items, n_events, seed=0)
    model = Hybrid(tune=False, **UNTUNED) if untuned else Hybrid()  # type: ignore[arg-type]
    started = time.perf_counter()
    model.fit(interactions)
    return model, interactions, time.perf_counter() - started


def report(model: Hybrid, interactions: Interactions, fit_s: float, rounds: int) -> str:
    """Markdown lines: the fit, then each path's timings on both kinds of history."""
    own = user_histories(interactions, USERS, seed=1)
    events = float(np.median([h.items.size for h in own]))
    lines = [
        f"hybrid on {len(interactions):,} synthetic events, {interactions.n_items:,} items: "
        f"training {fit_s:.1f} s ({model.metadata.get('tuning', 'untuned: fixed weights')}); "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores"
    ]
    for label, histories in (
        (f"{len(own)} training users' histories (median {events:.0f} events)", own),
        (f"{USERS} random {HISTORY}-event histories", random_histories(model.n_items, USERS, 2)),
    ):
        for path, figure in timings(model, histories, rounds).items():
            lines.append(f"- top 10, {label}, {path}: {figure}")
    lines.append(f"- load average after: {os.getloadavg()[0]:.1f}")
    return "\n".join(lines)


def measure(n_items: int, n_events: int, n_calls: int = USERS, untuned: bool = False,
            rounds: int = 3) -> str:  # fmt: skip
    """The fit and the scoring timings as Markdown (``n_calls`` is kept for callers: every
    round times ``USERS`` histories)."""
    del n_calls
    model, interactions, fit_s = fitted(n_items, n_events, untuned)
    return report(model, interactions, fit_s, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=USERS, help="(kept for old scripts)")
    parser.add_argument("--untuned", action="store_true")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    print(measure(args.items, args.events, args.calls, args.untuned, args.rounds))


if __name__ == "__main__":
    main()
