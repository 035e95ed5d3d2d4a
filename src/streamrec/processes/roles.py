"""What each child of ``streamrec serve`` runs. Every entry point takes the supervisor's pid
first: the child asks the kernel to SIGKILL it when that parent dies (a ``kill -9`` of ``serve``
leaves no orphan holding the port or a group lock), and leaves Ctrl-C to the supervisor, which
stops the children in order with SIGTERM."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import socket
import sys
import threading
from pathlib import Path

from streamrec.cluster.pids import die_with_parent
from streamrec.config import Settings
from streamrec.locks import GroupLock
from streamrec.processes.supervisor import ChildSpec
from streamrec.s3 import quiet_client_logs
from streamrec.signals import set_on_signals

__all__ = [
    "EXIT_GROUP_LOCKED",
    "ROLES",
    "api_worker",
    "consumer",
    "maintenance",
    "parse_roles",
    "serve_children",
    "supervisor_dir",
]

EXIT_GROUP_LOCKED = 3
# Groups whose lag only delays figures (the lake's files, attribution's counts), not what a
# request answers: they run at a lower priority (``background_nice``), so on a busy host the
# cores go to the API workers and the history and realtime groups first.
BACKGROUND_GROUPS = frozenset({"lake", "attribution"})


def _become_child(parent_pid: int) -> threading.Event:
    """PDEATHSIG, Ctrl-C to the parent, SIGTERM to a stop event; logging as the CLI sets it."""
    die_with_parent()
    if os.getppid() != parent_pid:  # the parent died before PDEATHSIG was armed
        sys.exit(1)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    stop = threading.Event()
    set_on_signals(stop)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(processName)s %(name)s: %(message)s"
    )
    quiet_client_logs()
    return stop


def api_worker(
    parent_pid: int, settings: Settings, sock: socket.socket, table: Path, snapshots: bool
) -> None:
    """One HTTP worker: serving state kept current by tailing the stream, as ``streamrec api``.
    Every worker follows the whole stream, so their states are the same: only the one with
    ``snapshots`` writes the state's snapshot (the others restore from it after a restart). A
    snapshot takes its writer about 100 ms of CPU under the GIL its requests need on the
    100,000-item benchmark state, every 30 s while events flow."""
    _become_child(parent_pid)
    from streamrec.processes.http import serve_http
    from streamrec.processes.table import ProcessTable
    from streamrec.runtime import Runtime

    runtime = Runtime(settings)
    runtime.process_table = ProcessTable(table)
    if snapshots:
        runtime.keep_snapshots()  # the real-time state survives restarts
    try:
        runtime.start_stream_tail()
        runtime.after_start()
        serve_http(runtime, [sock])  # uvicorn handles SIGTERM itself: a graceful shutdown
    finally:
        runtime.close()


def consumer(parent_pid: int, settings: Settings, group: str) -> None:
    """One consumer group; its in-memory serving state lives in the API workers, not here."""
    stop = _become_child(parent_pid)
    if group in BACKGROUND_GROUPS:
        os.nice(settings.background_nice)
    lock = GroupLock(settings.data_dir, group)
    if settings.stream_location.startswith("sqlite") and not lock.try_acquire():
        logging.getLogger(__name__).error("group %s is locked by another process", group)
        sys.exit(EXIT_GROUP_LOCKED)  # e.g. the previous instance is still exiting: retried
    from streamrec.runtime import Runtime

    runtime = Runtime(settings, serving=False)
    try:
        runner = runtime.make_runner(group, serving=False)
        logging.getLogger(__name__).info(
            "consuming group %s from %s", group, settings.stream_location
        )
        runner.run(stop)
    finally:
        runtime.close()
        lock.release()


def maintenance(parent_pid: int, settings: Settings) -> None:
    """History TTL purge, stream retention and retraining when due (``retrain_*`` settings)."""
    stop = _become_child(parent_pid)
    os.nice(settings.background_nice)
    from streamrec.runtime import Runtime

    runtime = Runtime(settings, serving=False)
    try:
        runtime.start_maintenance()
        logging.getLogger(__name__).info("maintenance running (purges; retraining when due)")
        stop.wait()
    finally:
        runtime.close()


def supervisor_dir(data_dir: Path) -> Path:
    """This supervisor's own folder, ``data_dir/run/serve-PID``: its process table and shared
    metrics. Several supervisors may share a data dir (the hosts of a cluster on one machine);
    the folders of supervisors no longer running are removed."""
    run = Path(data_dir) / "run"
    for old in run.glob("serve-*"):
        pid = old.name.removeprefix("serve-")
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(old, ignore_errors=True)
    path = run / f"serve-{os.getpid()}"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


ROLES = ("api", "history", "lake", "realtime", "attribution", "maintenance")
CONSUMER_ROLES = ("history", "lake", "realtime", "attribution")


def parse_roles(text: str, settings: Settings) -> list[str]:
    """``--roles``: "all" (every enabled group, the API and maintenance) or a comma-separated
    subset of :data:`ROLES`, as one host of a cluster runs (e.g. ``api`` on the web hosts,
    ``history,realtime`` on a consumer host)."""
    from streamrec.errors import ValidationError
    from streamrec.runtime import enabled_groups

    groups = enabled_groups(settings)
    enabled = [r for r in ROLES if r not in CONSUMER_ROLES or r in groups]
    if text.strip() == "all":
        return enabled
    roles = [r.strip() for r in text.split(",") if r.strip()]
    for role in roles:
        if role not in ROLES:
            raise ValidationError(
                "roles", f"unknown role {role!r}: all, or some of {', '.join(ROLES)}"
            )
        if role not in enabled:
            raise ValidationError("roles", f"group {role!r} is switched off in the settings")
    if not roles:
        raise ValidationError("roles", "name at least one role")
    return [r for r in ROLES if r in roles]


def serve_children(
    settings: Settings, sock: socket.socket | None, table: Path, workers: int, roles: list[str]
) -> list[ChildSpec]:
    """``serve``'s processes for ``roles``: ``workers`` API workers on ``sock``, one process per
    consumer group, one for maintenance."""
    children = []
    if "api" in roles:
        assert sock is not None
        children += [
            ChildSpec(f"api-{i}", "api", api_worker, (settings, sock, table, i == 0))
            for i in range(workers)
        ]
    children += [
        ChildSpec(f"consumer-{group}", "consumer", consumer, (settings, group))
        for group in roles
        if group in CONSUMER_ROLES
    ]
    if "maintenance" in roles:
        children.append(ChildSpec("maintenance", "maintenance", maintenance, (settings,)))
    return children
