"""What recording recommendations for attribution costs the recommendation route (issue 11).

Starts ``streamrec serve`` on a prepared data directory (``DIR/data`` with a trained, active
model, e.g. MovieLens 100K imported and trained) alternately with ``record_recommendations``
off and on, and measures ``GET /v1/recommendations/{user}?n=10`` for random users:

- latency: one client, requests one after another (p50, p95, mean, in ms);
- saturation: ``THREADS`` clients in threads for ``SATURATION_S`` seconds (requests/s).

Rounds alternate off/on so the shared machine's noise falls on both sides.

    python -m benchmarks.record_cost DIR [--rounds 2] [--requests 1000] [--users 943]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import threading
import time
from pathlib import Path
from typing import Any

import httpx

from benchmarks.server import StreamrecServer

WARM_UP = 100
THREADS = 8
SATURATION_S = 5.0


def _latencies(base: str, users: list[str], count: int) -> list[float]:
    rng = random.Random(7)
    out: list[float] = []
    with httpx.Client(base_url=base, timeout=10) as client:
        for k in range(WARM_UP + count):
            user = rng.choice(users)
            start = time.perf_counter()
            response = client.get(f"/v1/recommendations/{user}", params={"n": 10})
            elapsed = time.perf_counter() - start
            response.raise_for_status()
            if k >= WARM_UP:
                out.append(elapsed * 1000)
    return out


def _saturation(base: str, users: list[str]) -> float:
    done = [0] * THREADS
    stop = time.monotonic() + SATURATION_S

    def worker(index: int) -> None:
        rng = random.Random(index)
        with httpx.Client(base_url=base, timeout=10) as client:
            while time.monotonic() < stop:
                client.get(f"/v1/recommendations/{rng.choice(users)}", params={"n": 10})
                done[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(done) / SATURATION_S


def measure(directory: Path, record: bool, users: list[str], count: int) -> dict[str, Any]:
    settings = {"STREAMREC_RECORD_RECOMMENDATIONS": str(record).lower(), "STREAMREC_WORKERS": "1"}
    with StreamrecServer(directory, settings) as server:
        ms = sorted(_latencies(server.base_url, users, count))
        rate = _saturation(server.base_url, users)
    return {
        "record": record,
        "p50_ms": statistics.median(ms),
        "p95_ms": ms[int(0.95 * len(ms))],
        "mean_ms": statistics.fmean(ms),
        "saturation_rps": rate,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("directory", type=Path)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--users", type=int, default=943)
    args = parser.parse_args()
    users = [str(u) for u in range(1, args.users + 1)]
    rows = [
        measure(args.directory, record, users, args.requests)
        for _ in range(args.rounds)
        for record in (False, True)
    ]
    for row in rows:
        print(json.dumps(row))
    for key in ("p50_ms", "p95_ms", "mean_ms", "saturation_rps"):
        off = statistics.median(r[key] for r in rows if not r["record"])
        on = statistics.median(r[key] for r in rows if r["record"])
        print(f"{key}: off {off:.2f}  on {on:.2f}  change {100 * (on / off - 1):+.1f}%")


if __name__ == "__main__":
    main()
