"""End to end: 10,000 events from several clients, the server killed with SIGKILL mid-way and
restarted; every acknowledged event ends up in the lake exactly once and in the history."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest

from streamrec.lake.reader import LakeReader
from streamrec.testing._process import free_port

pytestmark = pytest.mark.slow

TRACKING_ID = "e2e-tracking"
CLIENTS = 4
EVENTS_PER_CLIENT = 2500
BATCH = 25


class Server:
    def __init__(self, data_dir: Path, port: int) -> None:
        self.data_dir = data_dir
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        env = {
            **os.environ,
            "STREAMREC_DATA_DIR": str(self.data_dir),
            "STREAMREC_PORT": str(self.port),
            "STREAMREC_TRACKING_ID": TRACKING_ID,
            "STREAMREC_SHARD_COUNT": "2",
            "STREAMREC_LAKE_FLUSH_INTERVAL_S": "0.5",
        }
        log = (self.data_dir.parent / "server.log").open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamrec.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=60)


def client_loop(
    server: Server, client: int, acked: list[str], retried: set[str], sent: threading.Event
) -> None:
    """Send this client's events in batches; a batch without a 202 is retried (same event ids).

    A batch whose request died with the server may have been stored before the kill: its retry
    then puts the same event ids in the stream twice, which is what event ids de-duplicate."""
    events = [
        {
            "event_id": f"c{client}-{k}",
            "user_id": f"user{(client * 7 + k) % 40}",
            "item_id": f"item{k % 97}",
            "event_type": "view" if k % 5 else "purchase",
        }
        for k in range(EVENTS_PER_CLIENT)
    ]
    with httpx.Client(base_url=server.url, headers={"X-Tracking-Id": TRACKING_ID}) as http:
        start = 0
        while start < len(events):
            batch = events[start : start + BATCH]
            try:
                r = http.post("/v1/events", json={"events": batch}, timeout=10)
            except httpx.HTTPError:
                retried.update(e["event_id"] for e in batch)
                time.sleep(0.2)
                continue
            if r.status_code != 202:
                retried.update(e["event_id"] for e in batch)
                time.sleep(0.2)
                continue
            assert r.json()["accepted"] == len(batch)
            acked.extend(e["event_id"] for e in batch)
            start += BATCH
            if start >= len(events) // 2:
                sent.set()


def wait_until_consumed(server: Server, timeout_s: float = 120) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = httpx.get(f"{server.url}/v1/status", timeout=5).json()
        if all(g["lag"] == 0 for s in status["shards"] for g in s["groups"].values()):
            return
        time.sleep(0.3)
    raise AssertionError(f"consumers did not catch up: {status}")


def test_sigkill_loses_nothing_and_duplicates_nothing(tmp_path: Path) -> None:
    server = Server(tmp_path / "data", free_port())
    server.start()
    acked: list[str] = []
    retried: set[str] = set()
    halfway = [threading.Event() for _ in range(CLIENTS)]
    threads = [
        threading.Thread(target=client_loop, args=(server, c, acked, retried, halfway[c]))
        for c in range(CLIENTS)
    ]
    for t in threads:
        t.start()
    try:
        for h in halfway:
            assert h.wait(120)
        server.kill()
        time.sleep(0.5)
        server.start()
        for t in threads:
            t.join(timeout=300)
        wait_until_consumed(server)
    finally:
        server.stop()  # a clean stop flushes the lake buffer
    assert len(acked) == len(set(acked)) == CLIENTS * EVENTS_PER_CLIENT

    reader = LakeReader(str(tmp_path / "data" / "lake"))
    raw = reader.query("SELECT event_id, user_id, event_type FROM events_raw")
    stored = Counter(raw.column("event_id").to_pylist())
    # An event sent once is in the lake files exactly once: the kill and the replay add nothing.
    assert {e: stored[e] for e in acked if e not in retried and stored[e] != 1} == {}
    # A retried batch may be in the stream twice (stored, then the answer lost with the server);
    # the lake's `events` view keeps one row per event id.
    assert all(1 <= stored[e] <= 2 for e in retried & set(acked))
    once = reader.query("SELECT event_id, COUNT(*) AS n FROM events GROUP BY event_id")
    counts = dict(
        zip(once.column("event_id").to_pylist(), once.column("n").to_pylist(), strict=True)
    )
    assert {e: counts.get(e, 0) for e in acked if counts.get(e, 0) != 1} == {}
    unique = reader.query("SELECT user_id, COUNT(*) AS n FROM events GROUP BY user_id")
    per_user = dict(
        zip(unique.column("user_id").to_pylist(), unique.column("n").to_pylist(), strict=True)
    )

    server.start()
    try:
        for user, n in per_user.items():
            items = httpx.get(f"{server.url}/v1/users/{user}/history?limit=500").json()["items"]
            assert sum(i["count"] for i in items) == n, user
    finally:
        server.stop()
