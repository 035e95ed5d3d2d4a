"""The API process's share of the recording cost, without HTTP or other processes: the
recommendation service's ``recommend`` + ``decorate`` for random users, alternately without and
with ``RecommendationRecorder.record`` (its batches written to the real SQLite stream by its
thread, as in ``streamrec serve``), in interleaved blocks so the machine's noise falls on both.

    python -m benchmarks.record_cost_inproc DIR [--blocks 20] [--block 200]

DIR/data holds a trained, active model (as for benchmarks.record_cost). It appends
``$recommendation`` records to that data dir's stream.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from pathlib import Path

from streamrec.config import Settings
from streamrec.runtime import Runtime


def _block(
    runtime: Runtime, users: list[str], size: int, record: bool, rng: random.Random
) -> float:
    service = runtime.recommendations
    start = time.perf_counter()
    for _ in range(size):
        user = rng.choice(users)
        result = service.recommend(user, 10)
        service.decorate(result)
        if record:
            runtime.recorder.record("recommendations", result, user)
    return (time.perf_counter() - start) / size * 1e6


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("directory", type=Path)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--block", type=int, default=200)
    args = parser.parse_args()
    runtime = Runtime(Settings(data_dir=args.directory / "data"))
    users = [str(u) for u in range(1, 944)]
    rng = random.Random(3)
    try:
        _block(runtime, users, args.block, True, rng)  # warm up both paths
        off, on = [], []
        for _ in range(args.blocks):
            off.append(_block(runtime, users, args.block, False, rng))
            on.append(_block(runtime, users, args.block, True, rng))
        runtime.recorder.flush()
    finally:
        runtime.close()
    a, b = statistics.median(off), statistics.median(on)
    print(
        f"per request, median of {args.blocks} blocks of {args.block}: "
        f"off {a:.0f} us, on {b:.0f} us, change {100 * (b / a - 1):+.1f}%"
    )
    print(f"recorded {runtime.recorder.recorded}, dropped {runtime.recorder.dropped}")


if __name__ == "__main__":
    main()
