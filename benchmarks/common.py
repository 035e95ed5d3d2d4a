"""Helpers shared by benchmark modules: event bodies, load-generator runs, machine load."""

from __future__ import annotations

import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import orjson

from benchmarks.loadgen import LoadSpec

__all__ = [
    "REPO_ROOT",
    "batch_bodies",
    "load_average",
    "run_loadgen",
    "run_module",
    "single_bodies",
]

REPO_ROOT = Path(__file__).resolve().parents[1]


def single_bodies(count: int, seed: int, users: int = 100_000, items: int = 10_000) -> list[bytes]:
    """Single-event JSON bodies over many users and items (no event_id: the server assigns it)."""
    rng = random.Random(seed)
    return [
        orjson.dumps(
            {
                "user_id": f"u{rng.randrange(users)}",
                "item_id": f"i{rng.randrange(items)}",
                "event_type": rng.choice(("view", "view", "click", "purchase")),
            }
        )
        for _ in range(count)
    ]


def batch_events(size: int, rng: random.Random) -> list[dict[str, Any]]:
    return [
        {
            "user_id": f"u{rng.randrange(100_000)}",
            "item_id": f"i{rng.randrange(10_000)}",
            "event_type": rng.choice(("view", "view", "click", "purchase")),
        }
        for _ in range(size)
    ]


def batch_bodies(count: int, size: int, seed: int) -> list[bytes]:
    """``{"events": [...]}`` bodies of `size` events each."""
    rng = random.Random(seed)
    return [orjson.dumps({"events": batch_events(size, rng)}) for _ in range(count)]


def run_loadgen(spec: LoadSpec) -> dict[str, Any]:
    """Run ``benchmarks.loadgen`` in a child process (so it does not share our GIL or loop)."""
    return run_module("benchmarks.loadgen", dataclasses.asdict(spec), spec.seconds + 120)


def run_module(module: str, spec: dict[str, Any], timeout_s: float) -> dict[str, Any]:
    """``python -m MODULE SPEC_JSON OUT`` in a child process; the JSON it wrote to OUT.

    The child writes a file rather than stdout because its event loop may leave stdout
    non-blocking (a pipe then takes only the first 64 KiB).
    """
    name = module.rsplit(".", 1)[-1]
    with tempfile.TemporaryDirectory(prefix=f"{name}-") as tmp:
        out = Path(tmp) / "result.json"
        cmd = [sys.executable, "-m", module, json.dumps(spec), str(out)]
        done = subprocess.run(
            cmd, capture_output=True, cwd=REPO_ROOT, check=False, timeout=timeout_s
        )
        if done.returncode != 0:
            raise RuntimeError(f"{name} failed: {done.stderr.decode(errors='replace')[-2000:]}")
        result: dict[str, Any] = json.loads(out.read_bytes())
    return result


def load_average() -> float:
    """The 1-minute load average: how busy the shared machine was around a measurement."""
    return os.getloadavg()[0]
