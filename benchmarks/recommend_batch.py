"""Users per second of ``streamrec recommend-batch`` (the job's library call, the start-up of the
command left out: its Runtime, real-time state and model), in one process and with ``--workers``
forked processes (their fork included), against per-user ``RecommendationService.recommend`` calls
(what the API does per request) on the same users; with the CPU time per user of each (the
process's and its ended workers'), which a machine shared with other work inflates less than
the wall clock, and the 1-minute load average before and after.

Usage: ``python -m benchmarks.recommend_batch DATA_DIR [--repeats 7] [--n 25]`` on a data dir
set up by ``streamrec demo movielens /work/shared/datasets/movielens-100k`` (STREAMREC_DATA_DIR):
every user of the lake, the default recipe's active model. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from benchmarks.harness import Stat
from streamrec.config import load_settings
from streamrec.jobs import recommend_batch
from streamrec.jobs.parallel import recommend_batch_parallel
from streamrec.lake.reader import LakeReader
from streamrec.runtime import Runtime
from streamrec.serving.batch import BatchScorer
from streamrec.serving.service import RecommendationService
from streamrec.serving.state_snapshot import replay_retained


def cpu_seconds() -> float:
    """CPU time (user and system) of this process and of its children that have ended."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class Timed:
    """Users per second and CPU milliseconds per user of each repetition."""

    def __init__(self) -> None:
        self.rates: list[float] = []
        self.cpu_ms: list[float] = []

    def run(self, users: int, job: Callable[[], object]) -> None:
        started, cpu = time.perf_counter(), cpu_seconds()
        job()
        self.rates.append(users / (time.perf_counter() - started))
        self.cpu_ms.append(1000 * (cpu_seconds() - cpu) / users)

    def json(self) -> dict[str, Any]:
        return {"users_per_s": summary(Stat(tuple(self.rates))),
                "cpu_ms_per_user": summary(Stat(tuple(self.cpu_ms)), 3)}  # fmt: skip


def summary(stat: Stat, digits: int = 0) -> dict[str, Any]:
    q1, q3 = stat.iqr
    return {"median": round(stat.median, digits), "min": round(stat.low, digits),
            "max": round(stat.high, digits), "iqr": [round(q1, digits), round(q3, digits)],
            "samples": [round(s, digits) for s in stat.samples]}  # fmt: skip


def per_request(service: RecommendationService, users: list[str], n: int) -> None:
    """What the API does for each user's request (without the HTTP)."""
    for user in users:
        service.decorate(service.recommend(user, n))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n", type=int, default=25)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    settings = load_settings(env={}, data_dir=args.data_dir)
    runtime = Runtime(settings)
    try:
        replay_retained(runtime.event_log, runtime.state_feed, runtime.user_state.positions())
        lake = LakeReader(settings.lake_location)
        users = [str(u) for u in lake.query("SELECT DISTINCT user_id FROM events").column(0)]
        service = runtime.recommendations
        BatchScorer(service).load()
        service.recommend(users[0], args.n)
        batch, parallel, single = Timed(), Timed(), Timed()
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.repeats):
                out, par = Path(tmp) / f"out{k}.jsonl", Path(tmp) / f"par{k}.jsonl"
                batch.run(len(users), partial(recommend_batch, service, users, out, args.n))
                forked = partial(recommend_batch_parallel, service, settings, users, par)
                parallel.run(len(users), partial(forked, args.n, args.workers))
                single.run(len(users), partial(per_request, service, users, args.n))
    finally:
        runtime.close()
    print(json.dumps({
        "users": len(users), "n": args.n, "load_average_1m_before": load_before,
        "load_average_1m_after": os.getloadavg()[0],
        "recommend_batch": batch.json(),
        f"recommend_batch_{args.workers}_workers": parallel.json(),
        "per_user_recommend": single.json(),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
