"""Faults the distributed backends must survive (issue 4), on real servers that the tests crash.

- The Kafka broker restarted under load: the API answers 503 with Retry-After while it cannot
  append durably, never 202 for an event it did not store, and recovers without a restart.
- Redis restarted: history reads fail with a clear 503 (not a 500) and recover by themselves.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.runtime import Runtime
from streamrec.stream.base import StreamRecord
from streamrec.testing import KafkaServer, RedisServer
from streamrec.testing.fixtures import ServerFactory
from tests.conftest import AUTH, RuntimeFactory
from tests.factories import make_event

pytestmark = [pytest.mark.cluster, pytest.mark.slow]

RECOVERY_S = 60.0


def _until(check: Callable[[], bool], timeout_s: float = RECOVERY_S) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


class _Load:
    """Posts one event at a time from a thread; records every status and what was acknowledged."""

    def __init__(self, client: TestClient) -> None:
        self._client = client
        self.acked: list[str] = []
        self.statuses: list[int] = []
        self.retry_after: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        n = 0
        while not self._stop.is_set():
            item = f"i{n}"
            n += 1
            r = self._client.post(
                "/v1/events", json={"user_id": f"u{n % 7}", "item_id": item}, headers=AUTH
            )
            self.statuses.append(r.status_code)
            if r.status_code == 202:
                self.acked.append(item)
            elif r.status_code == 503:
                self.retry_after.add(r.headers.get("Retry-After", ""))
            time.sleep(0.02)

    def __enter__(self) -> _Load:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


def _stored_items(runtime: Runtime) -> set[str]:
    consumer = runtime.event_log.consumer("fault-check")
    items: set[str] = set()
    while batch := consumer.poll(1000, 2.0):
        items.update(r.event.item_id for r in batch)
    consumer.close()
    return items


def test_kafka_restart_under_load_gives_503_then_recovers(
    server_factory: ServerFactory, make_runtime: RuntimeFactory
) -> None:
    kafka = server_factory(KafkaServer)
    runtime = make_runtime(stream_url=f"{kafka.url}/events", shard_count=2)
    with (
        TestClient(create_app(runtime), raise_server_exceptions=False) as client,
        _Load(client) as load,
    ):
        assert _until(lambda: len(load.acked) >= 20), "no events acknowledged before the fault"
        kafka.stop()
        assert _until(lambda: 503 in load.statuses), "the API never reported the broker down"
        before_restart = len(load.statuses)
        kafka.start()
        acked_at_restart = len(load.acked)
        assert _until(lambda: len(load.acked) >= acked_at_restart + 20), "no recovery"
    assert set(load.statuses) <= {202, 503}, f"unexpected statuses {set(load.statuses)}"
    assert load.statuses[before_restart - 1] == 503
    assert load.retry_after and "" not in load.retry_after
    # Every acknowledged event is in the stream (unacknowledged ones may be too: clients retry).
    assert set(load.acked) <= _stored_items(runtime)


def test_redis_restart_gives_503_on_history_then_recovers(
    server_factory: ServerFactory, make_runtime: RuntimeFactory
) -> None:
    redis_server = server_factory(RedisServer, appendonly=True)
    runtime = make_runtime(history_url=redis_server.url)
    assert runtime.history is not None
    records = [StreamRecord(0, i, make_event("alice", f"i{i}")) for i in range(3)]
    runtime.history.apply(records, {0: 3})
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        url = "/v1/users/alice/history"
        assert client.get(url, headers=AUTH).status_code == 200
        redis_server.stop()
        down = client.get(url, headers=AUTH)
        assert down.status_code == 503, down.text
        assert down.headers["Retry-After"]
        assert "redis" in down.json()["error"].lower()
        redis_server.start()
        assert _until(lambda: client.get(url, headers=AUTH).status_code == 200)
        items = {e["item_id"] for e in client.get(url, headers=AUTH).json()["items"]}
        assert items == {"i0", "i1", "i2"}  # the append-only file kept the history
        # Writes recover too (the apply script is loaded again into the new server).
        runtime.history.apply([StreamRecord(0, 3, make_event("alice", "i3"))], {0: 4})
        items = {e["item_id"] for e in client.get(url, headers=AUTH).json()["items"]}
    assert items == {"i0", "i1", "i2", "i3"}
    assert runtime.history.positions() == {0: 4}
