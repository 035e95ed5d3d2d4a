"""Open-loop load for the recommendation API, in its own process: ``python -m benchmarks.recload
SPEC_JSON OUT``.

Like :mod:`benchmarks.loadgen` (whose keep-alive connection it reuses), request ``i`` is due at
``t0 + i / rate`` and its latency runs from that intended time to the last byte of the answer,
so a stalled server pays for every request it delayed (no coordinated omission).

Two modes:

- ``get``: ``GET /v1/recommendations/{user}?n=N`` cycling over the users in ``users_file``.
- ``freshness``: background single-event POSTs at ``rate`` (users of their own, catalogue items),
  where every ``probe_every``-th event is a probe. Before the clock starts each probe user's
  current first recommendation X is read; the probe is a ``purchase`` of X by that user, and a
  purchase is a seen event (``exclude_seen_event_types``), so X must leave the user's
  recommendations. After the 202 the user's recommendations are polled every
  ``poll_interval_ms``; the figure is the time from the 202 to the end of the first answer
  without X. No background event touches a probe user, so nothing else removes X.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import REPO_ROOT
from benchmarks.loadgen import Connection, get_request, post_request

__all__ = ["RecLoadSpec", "run_child", "run_load"]


@dataclasses.dataclass(frozen=True)
class RecLoadSpec:
    port: int
    tracking_id: str
    rate: float
    seconds: float
    users_file: str  # one user id a line: the GET targets, or the probe users
    mode: str = "get"  # "get" or "freshness"
    n: int = 10
    connections: int = 32
    probe_every: int = 50
    poll_interval_ms: float = 5.0
    poll_connections: int = 16
    visible_timeout_s: float = 5.0
    items: int = 100_000  # background events pick catalogue items item-0 .. item-(items-1)
    seed: int = 1


@dataclasses.dataclass
class Tally:
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    send_lag_ms: list[float] = dataclasses.field(default_factory=list)
    freshness_ms: list[float] = dataclasses.field(default_factory=list)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    polls: int = 0
    unseen: int = 0
    errors: int = 0
    probes_skipped: int = 0  # probe users with no recommendation to remove


def recommendations_path(user: str, n: int) -> str:
    return f"/v1/recommendations/{user}?n={n}"


def first_item(body: bytes) -> str | None:
    items = orjson.loads(body).get("items") or []
    return str(items[0]["item_id"]) if items else None


def contains_item(body: bytes, item: str) -> bool:
    return any(i.get("item_id") == item for i in orjson.loads(body).get("items") or [])


class RecLoad:
    def __init__(self, spec: RecLoadSpec, users: list[str]) -> None:
        self.spec = spec
        self.users = users
        self.tally = Tally()
        self.queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        self.pollers: asyncio.Queue[Connection] = asyncio.Queue()
        self.probe_tasks: set[asyncio.Task[None]] = set()
        self.probes: dict[int, tuple[str, str]] = {}  # schedule index -> (user, item X)
        self._gets = [get_request(spec.port, recommendations_path(u, spec.n)) for u in users]
        self._posts = self._background_posts()

    def _background_posts(self) -> list[bytes]:
        rng = random.Random(self.spec.seed)
        kinds = ("view", "view", "view", "click", "add_to_cart", "purchase")
        return [
            post_request(
                self.spec.port,
                self.spec.tracking_id,
                orjson.dumps(
                    {
                        "user_id": f"bg-{self.spec.seed}-{rng.randrange(100_000)}",
                        "item_id": f"item-{rng.randrange(self.spec.items)}",
                        "event_type": rng.choice(kinds),
                    }
                ),
            )
            for _ in range(2048)
        ]

    async def run(self) -> Tally:
        spec = self.spec
        senders = [await Connection.open(spec.port) for _ in range(spec.connections)]
        for _ in range(spec.poll_connections if spec.mode == "freshness" else 0):
            self.pollers.put_nowait(await Connection.open(spec.port))
        if spec.mode == "freshness":
            await self._plan_probes(senders[0])
        workers = [asyncio.create_task(self._worker(c)) for c in senders]
        await self._dispatch()
        for _ in workers:
            self.queue.put_nowait(None)
        await asyncio.gather(*workers)
        if self.probe_tasks:
            await asyncio.gather(*self.probe_tasks)
        for c in senders:
            c.close()
        return self.tally

    async def _plan_probes(self, conn: Connection) -> None:
        """Read each probe user's first recommendation, before the clock starts."""
        total = int(self.spec.rate * self.spec.seconds)
        slots = range(0, total, self.spec.probe_every)
        for slot, user in zip(slots, self.users, strict=False):
            _, body = await conn.request(get_request(self.spec.port, self._path(user)))
            item = first_item(body)
            if item is None:
                self.tally.probes_skipped += 1
            else:
                self.probes[slot] = (user, item)

    def _path(self, user: str) -> str:
        return recommendations_path(user, self.spec.n)

    async def _dispatch(self) -> None:
        """Enqueue request i at its intended time t0 + i/rate (a batch per wake-up)."""
        total = int(self.spec.rate * self.spec.seconds)
        interval = 1.0 / self.spec.rate
        t0 = time.perf_counter() + 0.01
        i = 0
        while i < total:
            now = time.perf_counter()
            while i < total and t0 + i * interval <= now:
                intended = t0 + i * interval
                self.tally.send_lag_ms.append((now - intended) * 1000)
                self.queue.put_nowait((i, intended))
                i += 1
            if i < total:
                await asyncio.sleep(max(0.0, t0 + i * interval - time.perf_counter()))

    def _request(self, i: int) -> bytes:
        if self.spec.mode == "get":
            return self._gets[i % len(self._gets)]
        probe = self.probes.get(i)
        if probe is None:
            return self._posts[i % len(self._posts)]
        body = {"user_id": probe[0], "item_id": probe[1], "event_type": "purchase"}
        return post_request(self.spec.port, self.spec.tracking_id, orjson.dumps(body))

    async def _worker(self, conn: Connection) -> None:
        port = self.spec.port
        while (job := await self.queue.get()) is not None:
            i, intended = job
            try:
                status, _ = await conn.request(self._request(i))
            except (OSError, asyncio.IncompleteReadError, RuntimeError):
                self.tally.errors += 1
                conn = await Connection.open(port)
                continue
            done = time.perf_counter()
            self.tally.latencies_ms.append((done - intended) * 1000)
            self.tally.statuses[status] += 1
            if status == 202 and i in self.probes:
                task = asyncio.create_task(self._watch(*self.probes[i], done))
                self.probe_tasks.add(task)
                task.add_done_callback(self.probe_tasks.discard)

    async def _watch(self, user: str, item: str, acked: float) -> None:
        """Poll the user's recommendations until X is gone; record 202 -> first answer without."""
        request = get_request(self.spec.port, self._path(user))
        deadline = acked + self.spec.visible_timeout_s
        conn = await self.pollers.get()
        try:
            while time.perf_counter() < deadline:
                status, body = await conn.request(request)
                self.tally.polls += 1
                if status == 200 and not contains_item(body, item):
                    self.tally.freshness_ms.append((time.perf_counter() - acked) * 1000)
                    return
                await asyncio.sleep(self.spec.poll_interval_ms / 1000)
            self.tally.unseen += 1
        finally:
            self.pollers.put_nowait(conn)


def run_load(spec: RecLoadSpec) -> dict[str, Any]:
    """Run one load in this process (the CLI entry point runs it in a child process)."""
    import uvloop

    users = Path(spec.users_file).read_text().split()
    start = time.perf_counter()
    tally: Tally = uvloop.run(RecLoad(spec, users).run())
    return {
        "wall_s": time.perf_counter() - start,
        **{k: v for k, v in dataclasses.asdict(tally).items() if k != "statuses"},
        "statuses": {str(k): v for k, v in tally.statuses.items()},
    }


def run_child(spec: RecLoadSpec) -> dict[str, Any]:
    """Run one load in a child process (so it shares neither the GIL nor the event loop)."""
    with tempfile.TemporaryDirectory(prefix="recload-") as tmp:
        out = Path(tmp) / "result.json"
        args = [sys.executable, "-m", "benchmarks.recload", json.dumps(dataclasses.asdict(spec))]
        done = subprocess.run(
            [*args, str(out)],
            capture_output=True,
            cwd=REPO_ROOT,
            check=False,
            timeout=spec.seconds + 180,
        )
        if done.returncode != 0:
            raise RuntimeError(f"recload failed: {done.stderr.decode(errors='replace')[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_bytes())
    return result


def main(argv: list[str]) -> None:
    """``SPEC_JSON OUTPUT_PATH``: the result goes to a file, not stdout (see benchmarks.loadgen)."""
    spec = RecLoadSpec(**json.loads(argv[0]))
    Path(argv[1]).write_bytes(orjson.dumps(run_load(spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
