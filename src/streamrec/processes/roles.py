"""What each child of ``streamrec serve`` runs. Every entry point takes the supervisor's pid
first: the child asks the kernel to SIGKILL it when that parent dies (a ``kill -9`` of ``serve``
leaves no orphan holding the port or a group lock), and leaves Ctrl-C to the supervisor, which
stops the children in order with SIGTERM."""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from pathlib import Path

from streamrec.cluster.pids import die_with_parent
from streamrec.config import Settings
from streamrec.locks import GroupLock
from streamrec.processes.supervisor import ChildSpec

__all__ = ["EXIT_GROUP_LOCKED", "api_worker", "consumer", "maintenance", "serve_children"]

EXIT_GROUP_LOCKED = 3


def _become_child(parent_pid: int) -> threading.Event:
    """PDEATHSIG, Ctrl-C to the parent, SIGTERM to a stop event; logging as the CLI sets it."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before PDEATHSIG was armed
        sys.exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    return stop


def api_worker(parent_pid: int, settings: Settings, sock: socket.socket, table: Path) -> None:
    """One HTTP worker: serving state kept current by tailing the stream, as ``streamrec api``."""
    _become_child(parent_pid)
    from streamrec.processes.http import serve_http
    from streamrec.processes.table import ProcessTable
    from streamrec.runtime import Runtime

    runtime = Runtime(settings)
    runtime.process_table = ProcessTable(table)
    runtime.keep_snapshots()  # the real-time state survives restarts (the last writer's wins)
    try:
        runtime.start_stream_tail()
        runtime.after_start()
        serve_http(runtime, [sock])  # uvicorn handles SIGTERM itself: a graceful shutdown
    finally:
        runtime.close()


def consumer(parent_pid: int, settings: Settings, group: str) -> None:
    """One consumer group; its in-memory serving state lives in the API workers, not here."""
    stop = _become_child(parent_pid)
    lock = GroupLock(settings.data_dir, group)
    if settings.stream_location.startswith("sqlite") and not lock.try_acquire():
        logging.getLogger(__name__).error("group %s is locked by another process", group)
        sys.exit(EXIT_GROUP_LOCKED)  # e.g. the previous instance is still exiting: retried
    from streamrec.runtime import Runtime

    runtime = Runtime(settings, serving=False)
    try:
        runtime.make_runner(group, serving=False).run(stop)
    finally:
        runtime.close()
        lock.release()


def maintenance(parent_pid: int, settings: Settings) -> None:
    """History TTL purge, stream retention and retraining when due (``retrain_*`` settings)."""
    stop = _become_child(parent_pid)
    from streamrec.runtime import Runtime

    runtime = Runtime(settings, serving=False)
    try:
        runtime.start_maintenance()
        stop.wait()
    finally:
        runtime.close()


def serve_children(
    settings: Settings, sock: socket.socket, table: Path, workers: int
) -> list[ChildSpec]:
    """``serve``'s processes: ``workers`` API workers on ``sock``, one per enabled consumer group,
    one for maintenance."""
    from streamrec.runtime import enabled_groups

    children = [
        ChildSpec(f"api-{i}", "api", api_worker, (settings, sock, table)) for i in range(workers)
    ]
    children += [
        ChildSpec(f"consumer-{group}", "consumer", consumer, (settings, group))
        for group in enabled_groups(settings)
    ]
    children.append(ChildSpec("maintenance", "maintenance", maintenance, (settings,)))
    return children
