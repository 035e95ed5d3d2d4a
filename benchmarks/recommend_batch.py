"""Users per second of ``streamrec recommend-batch`` (the job's library call, the start-up of the
command left out: its Runtime and real-time state), in one process and with ``--workers``
forked processes (their fork included), against per-user ``RecommendationService.recommend`` calls (what the API does
per request) on the same users.

Usage: ``python -m benchmarks.recommend_batch DATA_DIR [--repeats 7] [--n 25]`` on a data dir
set up by ``streamrec demo movielens /work/shared/datasets/movielens-100k`` (STREAMREC_DATA_DIR):
every user of the lake, the default recipe's active model. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.harness import Stat
from streamrec.config import load_settings
from streamrec.jobs import recommend_batch
from streamrec.jobs.parallel import recommend_batch_parallel
from streamrec.lake.reader import LakeReader
from streamrec.runtime import Runtime
from streamrec.serving.state_snapshot import replay_retained


def summary(stat: Stat) -> dict[str, Any]:
    q1, q3 = stat.iqr
    return {"median": round(stat.median), "min": round(stat.low), "max": round(stat.high),
            "iqr": [round(q1), round(q3)], "samples": [round(s) for s in stat.samples]}  # fmt: skip


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
        service.recommend(users[0], args.n)  # loads the model
        batch: list[float] = []
        parallel: list[float] = []
        single: list[float] = []
        with tempfile.TemporaryDirectory() as tmp:
            for k in range(args.repeats):
                started = time.perf_counter()
                recommend_batch(service, users, Path(tmp) / f"out{k}.jsonl", args.n)
                batch.append(len(users) / (time.perf_counter() - started))
                started = time.perf_counter()
                out = Path(tmp) / f"par{k}.jsonl"
                recommend_batch_parallel(service, settings, users, out, args.n, args.workers)
                parallel.append(len(users) / (time.perf_counter() - started))
                started = time.perf_counter()
                for user in users:
                    service.decorate(service.recommend(user, args.n))
                single.append(len(users) / (time.perf_counter() - started))
    finally:
        runtime.close()
    print(json.dumps({
        "users": len(users), "n": args.n, "load_average_1m": os.getloadavg()[0],
        "recommend_batch_users_per_s": summary(Stat(tuple(batch))),
        f"recommend_batch_{args.workers}_workers_users_per_s": summary(Stat(tuple(parallel))),
        "per_user_recommend_users_per_s": summary(Stat(tuple(single))),
    }, indent=1))  # fmt: skip


if __name__ == "__main__":
    main()
