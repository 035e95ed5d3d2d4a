"""`make stop-cluster` while `make run-cluster` runs: the supervisor is stopped first (it stops
its processes in order and restarts none), and every process is gone."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from streamrec.cluster import process_start_ticks, running_supervisor
from streamrec.testing._process import free_port, port_open
from streamrec.testing.fixtures import in_ci

READY = "stops everything"


def _lines(proc: subprocess.Popen[str], into: list[str]) -> None:
    assert proc.stdout is not None
    for line in proc.stdout:
        into.append(line)


@pytest.mark.cluster
def test_stop_cluster_while_it_runs(tmp_path: Path) -> None:
    directory = tmp_path / "cluster"
    port = free_port()
    while port_open(port + 1):
        port = free_port()
    run = [sys.executable, "-m", "streamrec.cli", "cluster", "run", "--dir", str(directory),
           "--port", str(port), "--apis", "1", "--retrain-interval", "0"]  # fmt: skip
    proc = subprocess.Popen(run, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=_lines, args=(proc, output), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 300
        while not any(READY in line for line in output):
            if proc.poll() is not None or time.monotonic() > deadline:
                message = "".join(output)
                if "unavailable" in message.lower() and not in_ci():
                    pytest.skip(f"cluster unavailable: {message[-500:]}")
                raise AssertionError(f"cluster run did not start:\n{message}")
            time.sleep(0.5)
        pids = {p.stem: p.read_text() for p in (directory / "pids").glob("*.pid")}
        assert "supervisor" in pids and running_supervisor(directory) == proc.pid
        again = subprocess.run(run, capture_output=True, text=True, timeout=120)
        assert again.returncode == 2 and "already running" in again.stderr

        started = time.monotonic()
        stop = [sys.executable, "-m", "streamrec.cli", "cluster", "stop", "--dir", str(directory)]
        stopped = subprocess.run(stop, capture_output=True, text=True, timeout=120)
        took = time.monotonic() - started
        assert stopped.returncode == 0, stopped.stderr
        assert "supervisor" in stopped.stdout
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    reader.join(timeout=10)
    after_stop = "".join(output).split("stopping...", 1)[1]
    assert "restart" not in after_stop and "exited" not in after_stop
    assert list((directory / "pids").glob("*.pid")) == []
    for record in pids.values():
        pid = int(record.split('"pid": ')[1].split(",")[0])
        assert process_start_ticks(pid) is None, f"pid {pid} still runs"
    print(f"cluster stop took {took:.1f} s")  # reported by -s; the goal (15 s) is not asserted
