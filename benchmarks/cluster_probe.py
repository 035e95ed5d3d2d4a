"""Freshness probes for ``benchmarks.cluster``: event accepted -> visible to readers.

A probe posts one event for a user never seen before, and from its 202 polls both what a client
reads (``GET /v1/users/{id}/history`` on an API process) and what the recommender reads (the
user-state store the realtime group feeds) until each shows it. Background load comes from
``benchmarks.loadgen`` in its own process, so the probes measure a busy pipeline.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid

import httpx

from benchmarks.loadgen import LoadSpec
from streamrec.cluster import LocalCluster
from streamrec.stores import open_user_state_store

POLL_S = 0.002
VISIBLE_TIMEOUT_S = 10.0


def _background(cluster: LocalCluster, rate: float, seconds: float) -> subprocess.Popen[bytes]:
    settings = cluster.settings
    assert settings is not None
    spec = LoadSpec(
        port=cluster.plan.port, tracking_id=str(settings.tracking_id), rate=rate,
        seconds=seconds, connections=8,
    )  # fmt: skip
    command = [sys.executable, "-m", "benchmarks.loadgen", json.dumps(spec.__dict__)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def run_probes(
    cluster: LocalCluster, probes: int, rate: float, seed: int
) -> tuple[list[float], list[float]]:
    """(ms to visible in history, ms to visible in the user-state store) per probe."""
    settings = cluster.settings
    assert settings is not None
    load = _background(cluster, rate, seconds=probes * 0.5 + 30)
    store = open_user_state_store(settings)
    base = f"http://127.0.0.1:{cluster.plan.port}"
    history_ms: list[float] = []
    state_ms: list[float] = []
    try:
        time.sleep(2.0)  # let the background load reach its rate
        with httpx.Client(base_url=base, timeout=30) as client:
            for i in range(probes):
                user = f"probe-{seed}-{i}-{uuid.uuid4().hex[:8]}"
                h, s = _probe(client, store, str(settings.tracking_id), user)
                history_ms.append(h)
                state_ms.append(s)
    finally:
        load.terminate()
        load.wait(timeout=30)
        store.close()
    return history_ms, state_ms


def _probe(client: httpx.Client, store: object, tracking_id: str, user: str) -> tuple[float, float]:
    answer = client.post(
        "/v1/events", json={"user_id": user, "item_id": "probe-item"},
        headers={"X-Tracking-Id": tracking_id},
    )  # fmt: skip
    if answer.status_code != 202:
        raise RuntimeError(f"probe not accepted: {answer.status_code} {answer.text}")
    accepted = time.perf_counter()
    seen: dict[str, float] = {}
    while len(seen) < 2 and time.perf_counter() - accepted < VISIBLE_TIMEOUT_S:
        if "history" not in seen and client.get(f"/v1/users/{user}/history").json()["items"]:
            seen["history"] = (time.perf_counter() - accepted) * 1000
        if "state" not in seen and store.recent_events(user, 1):  # type: ignore[attr-defined]
            seen["state"] = (time.perf_counter() - accepted) * 1000
        time.sleep(POLL_S)
    timeout_ms = VISIBLE_TIMEOUT_S * 1000
    return seen.get("history", timeout_ms), seen.get("state", timeout_ms)
