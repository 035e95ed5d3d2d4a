"""Open-loop load at a fixed rate, in its own process: ``python -m benchmarks.loadgen SPEC OUT``.

Request ``i`` is due at ``t0 + i / rate`` whatever happened to the earlier ones, and its latency is
measured from that intended time to the last byte of the answer. A server that stalls therefore
pays for every request it delayed, not only for the one in flight (no coordinated omission),
and so does this generator when it falls behind: ``send_lag_ms`` (time from the intended send
to the dispatcher handing the request out) says by how much it did.

Two modes:

- ``ack``: single-event ``POST /v1/events`` (or ``{"events": [...]}`` bodies of ``batch``
  events when ``batch`` > 1; ``rate`` still counts requests); latency is the 202's time.
- ``freshness``: the same load, where every ``probe_every``-th event belongs to a fresh user;
  once it is acknowledged, that user's ``GET /v1/users/{id}/history`` is polled every
  ``poll_interval_ms`` and the time from the 202 to the answer that first shows the event is
  recorded (so the figure includes one history read, as a client would see it).

HTTP/1.1 over raw asyncio streams with keep-alive: a request is pre-built bytes, and an answer
is read as headers plus Content-Length, which keeps the generator's own cost per request small
on a machine where it shares two cores with the server.
"""

from __future__ import annotations

import abc
import asyncio
import dataclasses
import json
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import orjson

__all__ = ["LoadSpec", "OpenLoopBase", "Tally", "main", "run_load", "spec_main", "timed_run"]


@dataclasses.dataclass(frozen=True)
class LoadSpec:
    port: int
    tracking_id: str
    rate: float
    seconds: float
    mode: str = "ack"  # "ack" or "freshness"
    connections: int = 64
    probe_every: int = 50
    poll_interval_ms: float = 5.0
    poll_connections: int = 16
    visible_timeout_s: float = 5.0
    users: int = 100_000
    items: int = 10_000
    seed: int = 1
    batch: int = 1  # events per request (ack mode)
    # 0: send the whole schedule however long it takes. Else requests not yet sent this many
    # seconds after the start are dropped and counted as `unsent` (a server slower than the
    # schedule would otherwise stretch a 60 s load to minutes).
    deadline_s: float = 0.0


class Connection:
    """One keep-alive HTTP/1.1 connection; one request at a time. After an answer that says
    ``Connection: close`` (the server's ``keepalive_requests``) the next request opens a new
    one first, as an HTTP client does: the reconnect counts in that request's latency."""

    def __init__(
        self, port: int, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        self._port = port
        self._reader = reader
        self._writer = writer
        self._closed_by_server = False

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(port, reader, writer)

    async def request(self, data: bytes) -> tuple[int, bytes]:
        if self._closed_by_server:
            self._writer.close()
            self._reader, self._writer = await asyncio.open_connection("127.0.0.1", self._port)
            self._closed_by_server = False
        self._writer.write(data)
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        lower = head.lower()
        at = lower.find(b"content-length:")
        if at < 0:
            raise RuntimeError(f"answer without Content-Length: {head!r}")
        length = int(lower[at + 15 : lower.index(b"\r\n", at)])
        self._closed_by_server = b"\r\nconnection: close\r\n" in lower
        return status, await self._reader.readexactly(length)

    def close(self) -> None:
        self._writer.close()


def post_request(port: int, tracking_id: str, body: bytes) -> bytes:
    return (
        f"POST /v1/events HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Content-Type: application/json\r\nX-Tracking-Id: {tracking_id}\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode() + body


def get_request(port: int, path: str) -> bytes:
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n\r\n".encode()


@dataclasses.dataclass
class Tally:
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    send_lag_ms: list[float] = dataclasses.field(default_factory=list)
    freshness_ms: list[float] = dataclasses.field(default_factory=list)
    statuses: Counter[int] = dataclasses.field(default_factory=Counter)
    polls: int = 0
    unseen: int = 0
    errors: int = 0
    unsent: int = 0


class ScheduleSpec(Protocol):
    """What the open-loop machinery reads from a spec (LoadSpec, recload's RecLoadSpec)."""

    @property
    def port(self) -> int: ...
    @property
    def rate(self) -> float: ...
    @property
    def seconds(self) -> float: ...
    @property
    def mode(self) -> str: ...
    @property
    def connections(self) -> int: ...
    @property
    def poll_connections(self) -> int: ...
    @property
    def poll_interval_ms(self) -> float: ...
    @property
    def visible_timeout_s(self) -> float: ...


SpecT = TypeVar("SpecT", bound=ScheduleSpec)
TallyT = TypeVar("TallyT", bound=Tally)


class OpenLoopBase(abc.ABC, Generic[SpecT, TallyT]):
    """The schedule, the workers and the probe pollers that every open-loop generator shares.

    A subclass says what request ``i`` is (``_request``), which requests are probes
    (``_is_probe``) and how a probe is watched (``_watch``, usually through ``_poll_until``), so
    the latency and freshness figures are defined in one place for every generator.
    """

    def __init__(self, spec: SpecT, tally: TallyT) -> None:
        self.spec = spec
        self.tally = tally
        self.queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
        self.pollers: asyncio.Queue[Connection] = asyncio.Queue()
        self.probe_tasks: set[asyncio.Task[None]] = set()
        self._give_up_at = float("inf")

    @abc.abstractmethod
    def _request(self, i: int) -> bytes:
        """The bytes of request ``i`` of the schedule."""

    @abc.abstractmethod
    def _is_probe(self, i: int) -> bool:
        """Whether request ``i``, once answered 202, is watched by ``_watch``."""

    @abc.abstractmethod
    async def _watch(self, i: int, acked: float) -> None:
        """Watch probe ``i``, acknowledged at ``acked``, until it is visible."""

    async def _before_clock(self, conn: Connection) -> None:
        """Work on one sender connection before the schedule starts (none by default)."""

    async def run(self) -> TallyT:
        spec = self.spec
        senders = [await Connection.open(spec.port) for _ in range(spec.connections)]
        for _ in range(spec.poll_connections if spec.mode == "freshness" else 0):
            self.pollers.put_nowait(await Connection.open(spec.port))
        await self._before_clock(senders[0])
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

    async def _dispatch(self) -> None:
        """Enqueue request i at its intended time t0 + i/rate (a batch per wake-up)."""
        total = int(self.spec.rate * self.spec.seconds)
        interval = 1.0 / self.spec.rate
        t0 = time.perf_counter() + 0.01
        deadline_s = float(getattr(self.spec, "deadline_s", 0.0))
        if deadline_s > 0:
            self._give_up_at = t0 + deadline_s
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

    async def _worker(self, conn: Connection) -> None:
        port = self.spec.port
        while (job := await self.queue.get()) is not None:
            i, intended = job
            if time.perf_counter() > self._give_up_at:
                self.tally.unsent += 1
                continue
            try:
                status, _ = await conn.request(self._request(i))
            except (OSError, asyncio.IncompleteReadError, RuntimeError):
                self.tally.errors += 1
                conn = await Connection.open(port)
                continue
            done = time.perf_counter()
            self.tally.latencies_ms.append((done - intended) * 1000)
            self.tally.statuses[status] += 1
            if status == 202 and self._is_probe(i):
                task = asyncio.create_task(self._watch(i, done))
                self.probe_tasks.add(task)
                task.add_done_callback(self.probe_tasks.discard)

    async def _poll_until(
        self, request: bytes, acked: float, answered: Callable[[int, bytes], bool]
    ) -> None:
        """Send `request` every poll interval until `answered(status, body)`; record ack -> then."""
        deadline = acked + self.spec.visible_timeout_s
        conn = await self.pollers.get()
        try:
            while time.perf_counter() < deadline:
                status, body = await conn.request(request)
                self.tally.polls += 1
                if answered(status, body):
                    self.tally.freshness_ms.append((time.perf_counter() - acked) * 1000)
                    return
                await asyncio.sleep(self.spec.poll_interval_ms / 1000)
            self.tally.unseen += 1
        finally:
            self.pollers.put_nowait(conn)


class OpenLoop(OpenLoopBase[LoadSpec, Tally]):
    """Sends the schedule, measures acks and (in freshness mode) visibility."""

    def __init__(self, spec: LoadSpec) -> None:
        super().__init__(spec, Tally())
        self._bodies = self._background_bodies()

    def _background_bodies(self) -> list[bytes]:
        import random

        rng = random.Random(self.spec.seed)
        if self.spec.batch > 1:
            return [orjson.dumps({"events": self._events(rng)}) for _ in range(64)]
        return [
            orjson.dumps(
                {
                    "user_id": f"u{rng.randrange(self.spec.users)}",
                    "item_id": f"i{rng.randrange(self.spec.items)}",
                    "event_type": "view",
                }
            )
            for _ in range(1024)
        ]

    def _events(self, rng: Any) -> list[dict[str, str]]:
        spec = self.spec
        return [
            {
                "user_id": f"u{rng.randrange(spec.users)}",
                "item_id": f"i{rng.randrange(spec.items)}",
                "event_type": rng.choice(("view", "view", "click", "purchase")),
            }
            for _ in range(spec.batch)
        ]

    def _is_probe(self, i: int) -> bool:
        return self.spec.mode == "freshness" and i % self.spec.probe_every == 0

    def _body(self, i: int) -> bytes:
        if self._is_probe(i):
            return orjson.dumps({"user_id": f"probe-{self.spec.seed}-{i}", "item_id": f"p{i}"})
        return self._bodies[i % len(self._bodies)]

    def _request(self, i: int) -> bytes:
        return post_request(self.spec.port, self.spec.tracking_id, self._body(i))

    async def _watch(self, i: int, acked: float) -> None:
        """Poll the probe user's history until the event shows; record ack -> visible."""
        spec = self.spec
        request = get_request(spec.port, f"/v1/users/probe-{spec.seed}-{i}/history?limit=1")
        item = f'"p{i}"'.encode()
        await self._poll_until(request, acked, lambda _status, body: item in body)


def timed_run(make: Callable[[], OpenLoopBase[Any, TallyT]]) -> dict[str, Any]:
    """Build and run one generator on uvloop (asyncio without it); its tally as a JSON-able dict.

    The clock starts before `make` is called, so ``wall_s`` includes building the requests.
    """
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    start = time.perf_counter()
    tally: Tally = runner(make().run())
    return {
        "wall_s": time.perf_counter() - start,
        **{k: v for k, v in dataclasses.asdict(tally).items() if k != "statuses"},
        "statuses": {str(k): v for k, v in tally.statuses.items()},
    }


def run_load(spec: LoadSpec) -> dict[str, Any]:
    """Run one load in this process (the CLI entry point runs it in a child process)."""
    return timed_run(lambda: OpenLoop(spec))


def spec_main(argv: list[str], run: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
    """``SPEC_JSON OUTPUT_PATH``: the result goes to a file, not stdout, which the event loop may
    leave non-blocking (a pipe then takes only the first 64 KiB)."""
    Path(argv[1]).write_bytes(orjson.dumps(run(json.loads(argv[0]))))


def main(argv: list[str]) -> None:
    """``SPEC_JSON OUTPUT_PATH`` (see :func:`spec_main`)."""
    spec_main(argv, lambda spec: run_load(LoadSpec(**spec)))


if __name__ == "__main__":
    main(sys.argv[1:])
