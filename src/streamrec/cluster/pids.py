"""Pid files for ``cluster run`` / ``cluster stop``: each names a pid *and* its start time, so a
leftover file never leads to signalling an unrelated process that reused the pid."""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import signal
import time
from pathlib import Path

__all__ = [
    "SUPERVISOR",
    "die_with_parent",
    "process_start_ticks",
    "running_supervisor",
    "stop_leftovers",
    "write_pid_file",
]

_PR_SET_PDEATHSIG = 1
SUPERVISOR = "supervisor"  # the pid file of `cluster run` itself
SUPERVISOR_STOP_S = 12.0  # it stops its members and servers in order; then what is left goes


def process_start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (/proc/PID/stat field 22), or None
    when no such process runs. A zombie (exited, not yet reaped by its parent, e.g. the shell
    that ran ``make run-cluster``) counts as gone: it holds nothing and cannot be stopped."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return None if fields[0] == "Z" else int(fields[19])


def write_pid_file(path: Path, pid: int, stop_signal: signal.Signals) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"pid": pid, "start": process_start_ticks(pid), "signal": stop_signal.name}
    path.write_text(json.dumps(record) + "\n")


def _read_pid_file(path: Path) -> tuple[int, signal.Signals] | None:
    """The pid a file names if that very process still runs (not a recycled pid), else None."""
    try:
        record = json.loads(path.read_text())
        pid, start = int(record["pid"]), record["start"]
        stop_signal = signal.Signals[record.get("signal", "SIGTERM")]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if start is None or process_start_ticks(pid) != start:
        return None
    return pid, stop_signal


def running_supervisor(directory: Path) -> int | None:
    """The pid of the ``cluster run`` that manages ``directory``, if it still runs."""
    found = _read_pid_file(Path(directory) / "pids" / f"{SUPERVISOR}.pid")
    return None if found is None else found[0]


def stop_leftovers(directory: Path, timeout_s: float = 30.0) -> list[str]:
    """Stop every process named by a pid file in ``directory/pids``; returns the names stopped.

    A running ``cluster run`` goes first: it stops its own members and servers in order, and
    would otherwise restart the members stopped under it. Then whatever is left: streamrec
    processes first (they flush and commit), the servers they use last."""
    pid_dir = Path(directory) / "pids"
    files = sorted(
        pid_dir.glob("*.pid"),
        key=lambda p: (p.stem != SUPERVISOR, p.stem.startswith("server-"), p.stem),
    )
    stopped = []
    for path in files:
        found = _read_pid_file(path)
        if found is not None:
            wait = min(timeout_s, SUPERVISOR_STOP_S) if path.stem == SUPERVISOR else timeout_s
            _terminate(found[0], found[1], wait)
            stopped.append(path.stem)
        path.unlink(missing_ok=True)
    return stopped


def _terminate(pid: int, stop_signal: signal.Signals, timeout_s: float) -> None:
    start = process_start_ticks(pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and process_start_ticks(pid) == start:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # reap it when it is our own child
        time.sleep(0.1)
    if process_start_ticks(pid) == start:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when ``cluster run`` goes away."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
