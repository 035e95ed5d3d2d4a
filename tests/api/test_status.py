"""/healthz readiness and the consumer failure counters in /metrics, on a real Runtime."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.consumers.base import Sink
from streamrec.consumers.runner import ConsumerRunner
from streamrec.runtime import Runtime
from streamrec.stream.base import StreamRecord
from tests.conftest import AUTH, RuntimeFactory, drain


class BreakableSink:
    """A real sink whose writes raise a raw sqlite3 error while `broken` is set."""

    def __init__(self, sink: Sink) -> None:
        self._sink = sink
        self.broken = True

    @property
    def group(self) -> str:
        return self._sink.group

    def write(self, records: Sequence[StreamRecord]) -> None:
        if self.broken:
            raise sqlite3.OperationalError("disk I/O error")
        self._sink.write(records)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        return self._sink.checkpoint(now)

    def close(self) -> Mapping[int, int]:
        return self._sink.close()


def poll(check: Callable[[], bool], rounds: int = 200) -> None:
    """Poll `check` (up to 10 s); the caller asserts on the state it reached."""
    pause = threading.Event()
    for _ in range(rounds):
        if check():
            return
        pause.wait(0.05)


@pytest.fixture
def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(consumer_stall_s=0.2)


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def test_a_failing_group_is_retried_counted_and_named_by_healthz(
    client: TestClient, runtime: Runtime
) -> None:
    assert client.get("/healthz").status_code == 200
    events = [{"user_id": "u1", "item_id": f"i{k}"} for k in range(3)]
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202
    drain(runtime, "lake", "realtime", "attribution")
    sink = BreakableSink(runtime.make_sink("history"))
    runtime.start_runner(ConsumerRunner(runtime.event_log, sink, backoff_first_s=0.01))
    poll(lambda: "failing" in client.get("/healthz").text)
    health = client.get("/healthz")
    assert health.status_code == 503 and health.headers["retry-after"]
    assert "'history'" in health.json()["error"] and "OperationalError" in health.json()["error"]
    metrics = client.get("/metrics").text
    assert 'streamrec_consumer_failures_total{error="OperationalError",group="history"}' in metrics
    sink.broken = False
    poll(lambda: client.get("/healthz").status_code == 200)
    assert client.get("/healthz").json() == {"status": "ok"}
    assert len(client.get("/v1/users/u1/history").json()["items"]) == 3


def test_a_lag_that_does_not_come_down_makes_healthz_not_ready(
    client: TestClient, runtime: Runtime
) -> None:
    assert client.get("/healthz").status_code == 200
    event = {"user_id": "u1", "item_id": "i1"}
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
    client.get("/healthz")  # first sight of the lag
    poll(lambda: client.get("/healthz").status_code == 503)
    groups = client.get("/healthz").json()["groups"]
    assert set(groups) == set(runtime.enabled_groups())
    assert all(why.startswith("lag of 1 events, and nothing processed") for why in groups.values())
    drain(runtime)
    assert client.get("/healthz").status_code == 200


def test_head_healthz_answers_as_get_without_a_body(client: TestClient, runtime: Runtime) -> None:
    ready, ready_head = client.get("/healthz"), client.head("/healthz")
    assert (ready_head.status_code, ready_head.content) == (200, b"")
    assert ready_head.headers["content-type"] == "application/json"
    assert ready_head.headers["content-length"] == ready.headers["content-length"]
    event = {"user_id": "u1", "item_id": "i1"}
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
    client.head("/healthz")  # first sight of the lag
    poll(lambda: client.head("/healthz").status_code == 503)
    not_ready = client.head("/healthz")
    assert (not_ready.status_code, not_ready.content) == (503, b"")
    assert not_ready.headers["retry-after"] == "5"
