"""`streamrec serve` end to end: API workers sharing the port, a process per consumer group;
an event posted to one worker shows in another's recommendations; killed processes come back
and /v1/status says so."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from streamrec.testing._process import free_port, wait_until

pytestmark = pytest.mark.slow

TRACKING_ID = "serve-test"
ADMIN_KEY = "serve-test-admin"
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[str]:
    """The URL of a ``streamrec serve`` with two API workers, data in ``tmp_path / "data"``."""
    port = free_port()
    env = {
        **os.environ,
        "STREAMREC_DATA_DIR": str(tmp_path / "data"),
        "STREAMREC_PORT": str(port),
        "STREAMREC_TRACKING_ID": TRACKING_ID,
        "STREAMREC_WORKERS": "2",
        "STREAMREC_ADMIN_KEY": ADMIN_KEY,
    }
    log_path = tmp_path / "serve.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamrec.cli", "serve"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(
            lambda: all_alive(url), 120, "streamrec serve", lambda: proc.poll() is None, log_path
        )
        yield url
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, log_path.read_text()
        assert "stopped: every process has exited" in log_path.read_text()


def status(url: str) -> dict[str, Any]:
    body: dict[str, Any] = httpx.get(f"{url}/v1/status", timeout=5).json()
    return body


def all_alive(url: str) -> bool:
    try:
        processes = status(url).get("processes", [])
    except httpx.HTTPError:
        return False
    # 2 API workers, a consumer per group (history, lake, realtime, attribution), maintenance
    return len(processes) == 7 and all(p["alive"] for p in processes)


def clients_of_two_workers(url: str) -> list[httpx.Client]:
    """One kept-alive connection to each of two different API workers (told apart by the pid
    /v1/status reports); a connection stays with the worker that accepted it."""
    found: dict[int, httpx.Client] = {}
    for _ in range(100):
        client = httpx.Client(base_url=url, limits=httpx.Limits(max_connections=1), timeout=10)
        pid = client.get("/v1/status").json()["pid"]
        if pid in found:
            client.close()
            continue
        found[pid] = client
        if len(found) == 2:
            return list(found.values())
    raise AssertionError("100 connections all went to the same worker")


def recommended(client: httpx.Client, user: str) -> list[str]:
    response = client.get(f"/v1/recommendations/{user}", params={"n": 5})
    assert response.status_code == 200, response.text
    return [item["item_id"] for item in response.json()["items"]]


def test_an_event_posted_to_one_worker_reaches_the_others(serve: str) -> None:
    posting, reading = clients_of_two_workers(serve)
    events = [
        {"user_id": f"u{k}", "item_id": "fresh-item", "event_type": "purchase"} for k in range(3)
    ]
    response = posting.post(
        "/v1/events", json={"events": events}, headers={"X-Tracking-Id": TRACKING_ID}
    )
    assert response.status_code == 202
    for client in (reading, posting):
        wait_until(lambda c=client: "fresh-item" in recommended(c, "someone-new"), 30, "fresh item")
    assert posting.get("/v1/status").json()["pid"] != reading.get("/v1/status").json()["pid"]
    for client in (posting, reading):
        client.close()


def test_every_worker_reports_the_counts_of_all_workers(serve: str) -> None:
    posting, reading = clients_of_two_workers(serve)
    events = [{"user_id": "u1", "item_id": "i1", "event_type": "purchase"}] * 3
    response = posting.post(
        "/v1/events", json={"events": events}, headers={"X-Tracking-Id": TRACKING_ID}
    )
    assert response.status_code == 202
    for client in (posting, reading):
        counts = client.get("/v1/status").json()["events"]
        assert counts["accepted"] == 3
        assert counts["counted"] == "by every API process since the supervisor started"
        metrics = client.get("/metrics").text
        assert 'streamrec_events_accepted_total{event_type="purchase"} 3.0' in metrics
        board = client.get("/v1/admin/dashboard", headers=ADMIN).json()
        assert board["events"]["accepted_by_type"] == {"purchase": 3}
    for client in (posting, reading):
        client.close()


def test_the_processes_whose_work_can_wait_run_at_a_lower_priority(serve: str) -> None:
    own = os.getpriority(os.PRIO_PROCESS, 0)  # serve's children start from the test's niceness
    nice = {
        p["name"]: os.getpriority(os.PRIO_PROCESS, p["pid"]) for p in status(serve)["processes"]
    }
    background = {"consumer-lake", "consumer-attribution", "maintenance"}
    assert background <= nice.keys() and "consumer-realtime" in nice
    assert {name: value - own for name, value in nice.items()} == {
        name: 10 if name in background else 0 for name in nice
    }


def test_killed_processes_are_restarted_and_shown(serve: str) -> None:
    killed = ("consumer-history", "api-0")
    before = {p["name"]: p for p in status(serve)["processes"]}
    for name in killed:
        os.kill(before[name]["pid"], signal.SIGKILL)

    def back() -> bool:
        if not all_alive(serve):
            return False
        now = {p["name"]: p for p in status(serve)["processes"]}
        return all(now[n]["restarts"] == 1 and now[n]["pid"] != before[n]["pid"] for n in killed)

    wait_until(back, 60, "restarts")
    now = {p["name"]: p for p in status(serve)["processes"]}
    assert all(now[n]["last_exit_code"] == -signal.SIGKILL for n in killed)
    assert now["consumer-lake"]["restarts"] == 0 and now["api-1"]["restarts"] == 0


def test_an_erasure_at_one_worker_reaches_the_others(serve: str, tmp_path: Path) -> None:
    """The worker that did not take the DELETE forgets the user too (it reads the erasure's
    mark while following the stream): after the erasure, both workers are stopped, and what
    they write as they stop (the real-time state's snapshot) does not hold the id."""
    from tests.backend_search import files_holding

    user = "serve-erase-7d1e"
    posting, reading = clients_of_two_workers(serve)
    events = [{"user_id": user, "item_id": f"e{k % 5}"} for k in range(20)]
    events += [{"user_id": f"kept{k % 3}", "item_id": f"e{k % 5}"} for k in range(20)]
    headers = {"X-Tracking-Id": TRACKING_ID}
    assert posting.post("/v1/events", json={"events": events}, headers=headers).status_code == 202
    wait_until(
        lambda: reading.get(f"/v1/users/{user}/history").json()["items"] != [], 30, "history"
    )
    erasure = posting.delete(f"/v1/users/{user}", headers=ADMIN).json()

    def finished() -> bool:  # the status route answers from any worker
        return reading.get(erasure["status_url"], headers=ADMIN).json()["status"] != "running"

    wait_until(finished, 60, "the erasure")
    assert reading.get(erasure["status_url"], headers=ADMIN).json()["status"] == "done"
    for client in (posting, reading):
        client.close()
    workers = [p for p in status(serve)["processes"] if p["name"].startswith("api-")]
    for worker in workers:
        os.kill(worker["pid"], signal.SIGTERM)  # each writes its snapshot as it stops
    wait_until(lambda: all_alive(serve) and _restarted(serve, workers), 60, "workers back")
    assert files_holding(tmp_path / "data", user) == []


def _restarted(url: str, before: list[dict[str, Any]]) -> bool:
    now = {p["name"]: p["pid"] for p in status(url)["processes"]}
    return all(now[p["name"]] != p["pid"] for p in before)
