"""Open-loop load for the recommendation API, in its own process: ``python -m benchmarks.recload
SPEC_JSON OUT``.

Built on :mod:`benchmarks.loadgen`'s open-loop machinery: request ``i`` is due at
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

import dataclasses
import random
import sys
from pathlib import Path
from typing import Any

import orjson

from benchmarks.common import run_module
from benchmarks.loadgen import (
    Connection,
    OpenLoopBase,
    Tally,
    get_request,
    post_request,
    spec_main,
    timed_run,
)

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
class RecTally(Tally):
    probes_skipped: int = 0  # probe users with no recommendation to remove


def recommendations_path(user: str, n: int) -> str:
    return f"/v1/recommendations/{user}?n={n}"


def first_item(body: bytes) -> str | None:
    items = orjson.loads(body).get("items") or []
    return str(items[0]["item_id"]) if items else None


def contains_item(body: bytes, item: str) -> bool:
    return any(i.get("item_id") == item for i in orjson.loads(body).get("items") or [])


class RecLoad(OpenLoopBase[RecLoadSpec, RecTally]):
    def __init__(self, spec: RecLoadSpec, users: list[str]) -> None:
        super().__init__(spec, RecTally())
        self.users = users
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

    async def _before_clock(self, conn: Connection) -> None:
        if self.spec.mode == "freshness":
            await self._plan_probes(conn)

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

    def _request(self, i: int) -> bytes:
        if self.spec.mode == "get":
            return self._gets[i % len(self._gets)]
        probe = self.probes.get(i)
        if probe is None:
            return self._posts[i % len(self._posts)]
        body = {"user_id": probe[0], "item_id": probe[1], "event_type": "purchase"}
        return post_request(self.spec.port, self.spec.tracking_id, orjson.dumps(body))

    def _is_probe(self, i: int) -> bool:
        return i in self.probes

    async def _watch(self, i: int, acked: float) -> None:
        """Poll the user's recommendations until X is gone; record 202 -> first answer without."""
        user, item = self.probes[i]
        request = get_request(self.spec.port, self._path(user))
        await self._poll_until(
            request, acked, lambda status, body: status == 200 and not contains_item(body, item)
        )


def run_load(spec: RecLoadSpec) -> dict[str, Any]:
    """Run one load in this process (the CLI entry point runs it in a child process)."""
    users = Path(spec.users_file).read_text().split()
    return timed_run(lambda: RecLoad(spec, users))


def run_child(spec: RecLoadSpec) -> dict[str, Any]:
    """Run one load in a child process (so it shares neither the GIL nor the event loop)."""
    return run_module("benchmarks.recload", dataclasses.asdict(spec), spec.seconds + 180)


def main(argv: list[str]) -> None:
    """``SPEC_JSON OUTPUT_PATH`` (see :func:`benchmarks.loadgen.spec_main`)."""
    spec_main(argv, lambda spec: run_load(RecLoadSpec(**spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
