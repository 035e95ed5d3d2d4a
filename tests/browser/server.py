"""A real ``streamrec serve`` in a subprocess, seeded with the demo catalogue over its HTTP API.

The browser tests talk to the same server a user gets from ``make run``: a free port, a temporary
data dir and the settings given as STREAMREC_* variables. Seeding goes through the public API
(items as admin, events with the tracking id), so the tests need nothing from inside the process.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from streamrec.testing._process import free_port
from streamrec.web.catalogue import demo_data

TRACKING_ID = "browser-test-tracking-id"
ADMIN_KEY = "browser-test-admin-key"
SERVING_GROUPS = ("history", "realtime")


@dataclass
class Served:
    """A running server: its base URL, credentials and process."""

    url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method)
        req.add_header("Content-Type", "application/json")
        for name, value in (headers or {}).items():
            req.add_header(name, value)
        try:
            with urllib.request.urlopen(req, timeout=10) as resp:
                return resp.status, json.loads(resp.read() or b"null")
        except urllib.error.HTTPError as exc:
            return exc.code, json.loads(exc.read() or b"null")

    def get(self, path: str, **headers: str) -> Any:
        status, body = self.request("GET", path, headers=headers)
        assert status == 200, (path, status, body)
        return body

    def post_events(self, events: Sequence[Mapping[str, Any]]) -> int:
        accepted = 0
        for start in range(0, len(events), 500):
            status, body = self.request(
                "POST",
                "/v1/events",
                {"events": list(events[start : start + 500])},
                {"X-Tracking-Id": TRACKING_ID},
            )
            assert status == 202, body
            accepted += int(body["accepted"])
        return accepted

    def history_ids(self, user_id: str, limit: int = 50) -> list[str]:
        body = self.get(f"/v1/users/{user_id}/history?limit={limit}")
        return [row["item_id"] for row in body["items"]]

    def wait_caught_up(
        self, timeout_s: float = 20.0, groups: Sequence[str] = SERVING_GROUPS
    ) -> None:
        """Until the groups that feed the request path have processed everything in the stream.

        Not the lake: it commits only when it writes a file (every lake_flush_interval_s)."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            shards = self.get("/v1/status")["shards"]
            if all(s["groups"][g]["lag"] == 0 for s in shards for g in groups if g in s["groups"]):
                return
            time.sleep(0.05)
        raise AssertionError(f"consumers did not catch up in {timeout_s} s")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_server(
    data_dir: Path,
    env: Mapping[str, str] | None = None,
    args: Sequence[str] = (),
    port: int | None = None,
) -> Served:
    """Start ``streamrec serve [args]`` and wait until /healthz answers (or fail with its log).
    A restart passes the same ``port``: a browser keeps its visitor id per origin."""
    port = port or free_port()
    full_env = {
        **os.environ,
        "STREAMREC_DATA_DIR": str(data_dir),
        "STREAMREC_PORT": str(port),
        "STREAMREC_HOST": "127.0.0.1",
        "STREAMREC_TRACKING_ID": TRACKING_ID,
        "STREAMREC_ADMIN_KEY": ADMIN_KEY,
        **(env or {}),
    }
    log_path = data_dir.parent / f"serve-{port}.log"
    command = [str(Path(sys.executable).with_name("streamrec")), "serve", *args]
    with log_path.open("ab") as log:
        process = subprocess.Popen(command, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", process, log_path, dict(env or {}))
    deadline = time.monotonic() + 90  # a loaded 2-core CI machine imports slowly
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamrec serve exited {process.returncode}:\n{served.log()}")
        try:
            with urllib.request.urlopen(served.url + "/healthz", timeout=1):
                return served
        except OSError:
            time.sleep(0.1)
    served.stop()
    raise RuntimeError(f"streamrec serve did not answer in 90 s:\n{served.log()}")


def seed_demo_over_http(served: Served) -> None:
    """The demo catalogue (when the items API exists) and its background events."""
    data = demo_data()
    auth = {"Authorization": f"Bearer {ADMIN_KEY}"}
    for start in range(0, len(data.items), 500):
        status, body = served.request(
            "POST", "/v1/items", {"items": data.items[start : start + 500]}, auth
        )
        if status in (404, 405):  # no items API in this build: the widgets show bare ids
            break
        assert status in (200, 201, 202), body
    served.post_events(data.events)
    served.wait_caught_up()
