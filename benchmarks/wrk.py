"""Saturation load with ``wrk`` (Debian's package, installed on first use) and its output parsed.

wrk is a closed loop: each connection sends its next request when the previous answer arrives,
which is what a saturation figure needs (the most the server can do with N clients). Its latency
numbers suffer from coordinated omission, so fixed-rate latency comes from ``loadgen`` instead.
POST bodies are baked into a generated Lua script and cycled, so wrk does no work per request
beyond sending bytes.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["WrkResult", "ensure_wrk", "post_script", "run_wrk"]

_REQUESTS_PER_S = re.compile(r"Requests/sec:\s+([\d.]+)")
_TOTAL = re.compile(r"(\d+) requests in ([\d.]+)(ms|s|m)")
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s+(\d+)")
_SOCKET_ERRORS = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")
_PERCENTILE = re.compile(r"^\s+(50|99)(?:\.000)?%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)
_UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0}


@dataclasses.dataclass(frozen=True)
class WrkResult:
    requests_per_s: float
    requests: int
    non_2xx: int
    socket_errors: int
    p50_ms: float | None
    p99_ms: float | None


def ensure_wrk() -> str:
    """The wrk binary; installs Debian's package when missing (idempotent, needs root or sudo)."""
    found = shutil.which("wrk")
    if found:
        return found
    sudo: list[str] = [] if _is_root() else ["sudo", "-n"]
    env_cmd = ["env", "DEBIAN_FRONTEND=noninteractive"]
    install = [*sudo, *env_cmd, "apt-get", "install", "-y", "-q", "wrk"]
    if subprocess.run(install, capture_output=True, check=False).returncode != 0:
        subprocess.run(
            [*sudo, *env_cmd, "apt-get", "update", "-q"], capture_output=True, check=False
        )
        subprocess.run(install, capture_output=True, check=True)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("wrk is not installed and apt-get could not install it")
    return found


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def post_script(path: Path, bodies: Sequence[bytes], headers: Mapping[str, str]) -> Path:
    """Write a wrk Lua script that POSTs the given bodies in turn with the given headers."""
    lines = ['wrk.method = "POST"']
    lines += [f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items()]
    lines.append("local bodies = {")
    for body in bodies:
        text = body.decode()
        if "]==]" in text:
            raise ValueError("body would end the Lua long string")
        lines.append(f"  [==[{text}]==],")
    lines.append("}")
    lines += [
        "local n = 0",
        "function request()",
        "  n = n + 1",
        "  return wrk.format(nil, nil, nil, bodies[(n % #bodies) + 1])",
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    url: str,
    seconds: float,
    connections: int,
    threads: int = 1,
    script: Path | None = None,
) -> WrkResult:
    """One wrk run; raises when it failed to run at all, reports errors it counted."""
    cmd = [
        ensure_wrk(),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        cmd += ["-s", str(script)]
    done = subprocess.run([*cmd, url], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stderr or done.stdout}")
    return parse_wrk(done.stdout)


def parse_wrk(out: str) -> WrkResult:
    rate = _REQUESTS_PER_S.search(out)
    total = _TOTAL.search(out)
    if rate is None or total is None:
        raise RuntimeError(f"cannot read wrk output:\n{out}")
    non_2xx = _NON_2XX.search(out)
    errors = _SOCKET_ERRORS.search(out)
    percentiles = {
        m.group(1): float(m.group(2)) * _UNIT_MS[m.group(3)] for m in _PERCENTILE.finditer(out)
    }
    return WrkResult(
        requests_per_s=float(rate.group(1)),
        requests=int(total.group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(g) for g in errors.groups()) if errors else 0,
        p50_ms=percentiles.get("50"),
        p99_ms=percentiles.get("99"),
    )
