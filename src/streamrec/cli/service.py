"""``streamrec serve`` (a supervisor: API workers and a process per consumer group),
``streamrec api`` (one API process) and ``streamrec consume GROUP``."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import threading
from typing import Annotated

import typer
from rich.console import Console

from streamrec import shared_metrics
from streamrec.cli.common import ConfigOption, settings_from, with_tracking_id
from streamrec.config import Settings
from streamrec.errors import StreamrecError
from streamrec.locks import GroupLock
from streamrec.processes import ProcessTable, Supervisor
from streamrec.processes.http import bind_socket, serve_http
from streamrec.processes.roles import parse_roles, serve_children, supervisor_dir
from streamrec.runtime import Runtime, enabled_groups
from streamrec.signals import set_on_signals
from streamrec.stream import open_event_log

out = Console(soft_wrap=True)


def lock_groups(settings: Settings, groups: list[str]) -> list[GroupLock]:
    locks = []
    for group in groups:
        lock = GroupLock(settings.data_dir, group)
        if not lock.try_acquire():
            raise StreamrecError(
                f"consumer group {group!r} is already running against {settings.data_dir}"
                f" (lock {lock.path})"
            )
        locks.append(lock)
    return locks


def print_banner(settings: Settings, role: str) -> None:
    url = f"http://{settings.host}:{settings.port}"
    out.print(f"[bold]streamrec {role}[/bold] listening on [link]{url}[/link]")
    out.print(f"  tracking id : {settings.tracking_id}")
    out.print(f"  data dir    : {settings.data_dir.resolve()}")
    out.print(f"  stream      : {settings.stream_location}")
    out.print(f"  API docs    : {url}/docs   demo: {url}/demo   dashboard: {url}/dashboard")
    out.print(f"  admin routes: {_admin_state(settings)}")


def _admin_state(settings: Settings) -> str:
    if settings.admin_key:
        return "on (the dashboard asks for admin_key)"
    return "off: start with STREAMREC_ADMIN_KEY=... to use the dashboard and admin routes"


def seed_demo_shop(runtime: Runtime) -> None:
    from streamrec.web.catalogue import seed_demo

    if seed_demo(runtime):
        out.print("seeded the demo shop's catalogue and background events")


DemoOption = Annotated[
    bool,
    typer.Option("--demo", help="Seed the demo shop's catalogue and background events when empty."),
]


def worker_count(settings: Settings) -> int:
    """``workers``, or one per core this process may run on when it is 0."""
    return settings.workers or len(os.sched_getaffinity(0))


RolesOption = Annotated[
    str,
    typer.Option(
        "--roles",
        help="all, or some of api,history,lake,realtime,attribution,maintenance (one host of a cluster)",
    ),
]


def cmd_serve(
    config: ConfigOption = None, demo: DemoOption = False, roles: RolesOption = "all"
) -> None:
    """Run API workers (one per core, or `workers`) sharing the port, and a process per consumer
    group and for maintenance; each is restarted if it dies. Ctrl-C or SIGTERM stops them all.
    `--roles` runs a subset: each host of a cluster runs this same supervisor for its roles."""
    settings = settings_from(config)
    chosen = parse_roles(roles, settings)
    # the port first: a port in use is one error that leaves nothing behind in the data dir
    sock = _listen(settings) if "api" in chosen else None
    try:
        _supervise(with_tracking_id(settings), chosen, sock, demo)
    finally:
        if sock is not None:
            sock.close()


def _supervise(
    settings: Settings, chosen: list[str], sock: socket.socket | None, demo: bool
) -> None:
    """``cmd_serve`` once the port is bound: the checks, the children, until a signal."""
    consumers = [r for r in chosen if r in enabled_groups(settings)]
    if settings.stream_location.startswith("sqlite"):
        for lock in lock_groups(settings, consumers):
            lock.release()  # only a check: each consumer process holds its own group's lock
    _check_stream(settings)
    if demo:
        runtime = Runtime(settings, serving=False)
        try:
            seed_demo_shop(runtime)
        finally:
            runtime.close()
    run_dir = supervisor_dir(settings.data_dir)
    table = ProcessTable(run_dir / "processes.json")
    shared_metrics.prepare_dir(run_dir / "metrics")  # before the children start: they inherit it
    children = serve_children(settings, sock, table.path, worker_count(settings), chosen)
    supervisor = Supervisor(children, table, on_event=lambda text: out.print(text))
    stop = threading.Event()
    set_on_signals(stop, (signal.SIGINT, signal.SIGTERM))
    supervisor.start()
    if sock is not None:
        print_banner(settings, "serve")
    out.print(f"  processes   : {', '.join(supervisor.names)}")
    try:
        supervisor.run(stop)
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
    out.print("stopped: every process has exited")


def _check_stream(settings: Settings) -> None:
    """Open the stream once before starting any child: an unreachable broker (a typo in
    ``stream_url``) is one error at start, not every child failing and restarting with a
    traceback."""
    try:
        open_event_log(settings).close()
    except StreamrecError as exc:
        raise StreamrecError(f"cannot open the stream (stream_url): {exc}") from exc


def _listen(settings: Settings) -> socket.socket:
    try:
        return bind_socket(settings.host, settings.port)
    except OSError as exc:
        raise StreamrecError(f"cannot listen on {settings.host}:{settings.port}: {exc}") from exc


def cmd_api(config: ConfigOption = None) -> None:
    """Run the HTTP API alone (stateless; run consumers with `streamrec consume`)."""
    settings = with_tracking_id(settings_from(config))
    runtime = Runtime(settings)
    runtime.keep_snapshots()
    try:
        runtime.start_stream_tail()
        runtime.after_start()
        print_banner(settings, "api")
        serve_http(runtime)
    finally:
        runtime.close()


def cmd_consume(
    group: Annotated[str, typer.Argument(help="history, lake, realtime or attribution")],
    config: ConfigOption = None,
) -> None:
    """Run one consumer group alone against the configured stream until Ctrl-C / SIGTERM."""
    settings = settings_from(config)
    runtime = Runtime(settings)
    locks = lock_groups(settings, [group]) if settings.stream_location.startswith("sqlite") else []
    stop = threading.Event()
    set_on_signals(stop)
    runner = runtime.make_runner(group)
    out.print(f"consuming group [bold]{group}[/bold] from {settings.stream_location}")
    try:
        runner.run(stop)
    except KeyboardInterrupt:
        runner.close()
    finally:
        runtime.close()
        for lock in locks:
            lock.release()


def register(app: typer.Typer) -> None:
    app.command("serve")(cmd_serve)
    app.command("api")(cmd_api)
    app.command("consume")(cmd_consume)
