"""Latency of the sequential recipe's numpy serving path (issue 14): one user's last L events,
the forward pass and the logits of every item; ``score([history])``, the call the service makes
(logits to scores); and the whole ``recommend_user`` call (scores, exclusion of the history,
top 10 through the batch interface), on one core.

Run: ``.venv/bin/python -m benchmarks.sequential_latency`` (numpy only: no JAX needed). The
weights are random (latency does not depend on their values) with the recipe's default shape:
64 dimensions, 2 blocks, 1 head, L = 50 events, 10,000 items. Writes
benchmarks/results/sequential.latency.json; with ``--members N`` (a seed ensemble of N members,
as the hybrid's sequence term trains by default) sequential.latency.members-N.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.recommenders.data import HistoryBatch, UserHistory
from streamrec.recommenders.sequential import Sequential
from streamrec.testing.sasrec import random_sequential

N_ITEMS, DIM, MAX_LEN, BLOCKS = 10_000, 64, 50, 2
REPEATS, USERS, ROUNDS = 2_000, 200, 5
# wall-clock time counts the waits of a shared machine; the thread's CPU time is the cost on one
# core, and the figure to compare with the 1 ms target when the machine is busy
RESULT = Path(__file__).parent / "results" / "sequential.latency.json"


def model(members: int = 1) -> Sequential:
    return random_sequential(N_ITEMS, DIM, MAX_LEN, BLOCKS, members=members, scale=0.1)


def timings(call: object, histories: list[UserHistory]) -> dict[str, Any]:
    """Percentiles over all ROUNDS x REPEATS calls, and the spread of the p50 between rounds
    (median, min and max of the rounds' p50s): how much a figure moves on a shared machine."""
    assert callable(call)
    for h in histories[:50]:
        call(h)  # warm-up
    wall, cpu = np.zeros((ROUNDS, REPEATS)), np.zeros((ROUNDS, REPEATS))
    for r in range(ROUNDS):
        for i in range(REPEATS):
            h = histories[i % len(histories)]
            started, started_cpu = time.perf_counter(), time.thread_time()
            call(h)
            wall[r, i] = time.perf_counter() - started
            cpu[r, i] = time.thread_time() - started_cpu
    out: dict[str, Any] = {}
    for name, samples in (("wall", wall), ("cpu", cpu)):
        ms = samples * 1e3
        out |= {f"{name}_p{q}_ms": round(float(np.percentile(ms, q)), 4) for q in (50, 90, 99)}
        rounds = np.percentile(ms, 50, axis=1)
        out[f"{name}_p50_of_rounds_ms"] = {
            "median": round(float(np.median(rounds)), 4),
            "min": round(float(rounds.min()), 4),
            "max": round(float(rounds.max()), 4),
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1, help="seeds averaged (default 1)")
    members = parser.parse_args().members
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    load_before = os.getloadavg()[0]
    m = model(members)
    rng = np.random.default_rng(1)
    histories = [UserHistory.of(rng.integers(0, N_ITEMS, MAX_LEN)) for _ in range(USERS)]
    with threadpool_limits(1):
        forward = timings(lambda h: m.logits(HistoryBatch.from_histories([h])), histories)
        scores = timings(lambda h: m.score([h]), histories)
        request = timings(lambda h: m.recommend_user(h, n=10), histories)
    result = {
        "what": "sequential recipe, numpy serving path, one user, one core",
        "shape": {
            "items": N_ITEMS,
            "dim": DIM,
            "max_len": MAX_LEN,
            "blocks": BLOCKS,
            "members": members,
        },
        "forward_and_logits": forward,
        "score_as_the_service_calls_it": scores,
        "recommend_user_top10": request,
        "repeats": REPEATS,
        "rounds": ROUNDS,
        "machine": f"{platform.machine()} / Python {platform.python_version()}, "
        f"load average {load_before:.1f} before and {os.getloadavg()[0]:.1f} after, "
        f"on {os.cpu_count()} cores",
    }
    path = (
        RESULT if members == 1 else RESULT.with_name(f"sequential.latency.members-{members}.json")
    )
    path.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
