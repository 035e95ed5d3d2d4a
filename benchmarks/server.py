"""``streamrec serve`` as a child process on a free loopback port with its own data directory.

Benchmarks talk to the real server over TCP from other processes, so what they measure is what a
client sees: HTTP parsing, validation, the group-committed append and the consumers sharing the
same two cores.
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
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from streamrec.testing._process import free_port

__all__ = ["TRACKING_ID", "StreamrecServer", "free_port", "streamrec_command"]

TRACKING_ID = "bench-tracking-id"


def streamrec_command(*args: str) -> list[str]:
    """The ``streamrec`` CLI run by this interpreter (the venv's), whatever PATH says."""
    return [sys.executable, "-m", "streamrec.cli", *args]


def streamrec_env(data_dir: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for a child: no inherited STREAMREC_* setting leaks into a measurement."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
    env.update(
        {
            "STREAMREC_DATA_DIR": str(data_dir),
            "STREAMREC_TRACKING_ID": TRACKING_ID,
            "STREAMREC_HOST": "127.0.0.1",
        }
    )
    env.update(extra or {})
    return env


class StreamrecServer:
    """One ``streamrec serve``; ``start()`` returns once /healthz answers."""

    def __init__(self, data_dir: Path, settings: Mapping[str, str] | None = None) -> None:
        self.data_dir = data_dir
        self.port = free_port()
        self.settings = dict(settings or {})
        self.log_path = data_dir / "server.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self._proc is None:
            raise RuntimeError("server not started")
        return self._proc.pid

    def start(self, timeout_s: float = 60.0) -> None:
        env = streamrec_env(
            self.data_dir / "data", {"STREAMREC_PORT": str(self.port), **self.settings}
        )
        with self.log_path.open("wb") as log:
            self._proc = subprocess.Popen(
                streamrec_command("serve"), env=env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise RuntimeError(f"streamrec serve exited: {self.log_tail()}")
            if self._healthy():
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"streamrec serve not ready after {timeout_s:.0f}s: {self.log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.base_url + "/healthz", timeout=1.0) as resp:
                return bool(resp.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def get_json(self, path: str) -> Any:
        with urllib.request.urlopen(self.base_url + path, timeout=10.0) as resp:
            return json.loads(resp.read())

    def consumer_lag(self, groups: Sequence[str]) -> int:
        """Events appended but not yet committed by the slowest of `groups`, over all shards.

        Committed offsets move on checkpoints (the lake's only when it flushes a file), so this
        is an upper bound on what a group still has to process.
        """
        status = self.get_json("/v1/status")
        return sum(_shard_lag(shard, groups) for shard in status.get("shards", []))

    def wait_for_consumers(self, groups: Sequence[str], timeout_s: float) -> float:
        """Wait until `groups` have caught up (or timeout), so a backlog left by one repetition
        does not slow the next; returns the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout_s and self.consumer_lag(groups) > 0:
            time.sleep(0.2)
        return time.monotonic() - start

    def log_tail(self, chars: int = 2000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""

    def stop(self) -> None:
        if self._proc is None or self._proc.poll() is not None:
            return
        self._proc.send_signal(signal.SIGINT)
        try:
            self._proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _shard_lag(shard: Mapping[str, Any], groups: Sequence[str]) -> int:
    lags = [int(info["lag"]) for g, info in shard.get("groups", {}).items() if g in groups]
    return max(lags, default=0)
