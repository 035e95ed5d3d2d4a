"""``streamrec serve`` (API + every consumer group in one process) and ``streamrec consume GROUP``."""

from __future__ import annotations

import signal
import sys
import threading
from typing import Annotated

import typer
from rich.console import Console

from streamrec.cli.common import ConfigOption, settings_from, with_tracking_id
from streamrec.config import Settings
from streamrec.errors import StreamrecError
from streamrec.locks import GroupLock
from streamrec.runtime import Runtime

out = Console(soft_wrap=True)


def serve_http(runtime: Runtime) -> None:
    import uvicorn
    from threadpoolctl import threadpool_limits

    # The consumer threads share the GIL with the event loop; a shorter switch interval (default
    # 5 ms) bounds how long a consumer's Python work can hold up an acknowledgement.
    sys.setswitchinterval(0.001)
    # One BLAS thread per request: scoring is a small matrix-vector product, and BLAS thread pools
    # fighting over the cores cost more (ALS fold-in p50 went from ~5 ms to ~24 ms under load).
    threadpool_limits(1)

    from streamrec.api.app import create_app

    s = runtime.settings
    uvicorn.run(
        create_app(runtime),
        host=s.host,
        port=s.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http="httptools",
        timeout_graceful_shutdown=5,
    )


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


def seed_demo_shop(runtime: Runtime) -> None:
    from streamrec.web.catalogue import seed_demo

    if seed_demo(runtime):
        out.print("seeded the demo shop's catalogue and background events")


DemoOption = Annotated[
    bool,
    typer.Option("--demo", help="Seed the demo shop's catalogue and background events when empty."),
]


def cmd_serve(config: ConfigOption = None, demo: DemoOption = False) -> None:
    """Run the API and every enabled consumer group in one process (the embedded default)."""
    settings = with_tracking_id(settings_from(config))
    runtime = Runtime(settings)
    if demo:
        runtime.start_hooks.append(seed_demo_shop)
    locks = lock_groups(settings, runtime.enabled_groups())
    runtime.keep_snapshots()
    try:
        runtime.start_consumers()
        runtime.start_maintenance()
        runtime.after_start()
        print_banner(settings, "serve")
        serve_http(runtime)
    finally:
        runtime.close()
        for lock in locks:
            lock.release()


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
    group: Annotated[str, typer.Argument(help="history, lake or realtime")],
    config: ConfigOption = None,
) -> None:
    """Run one consumer group alone against the configured stream until Ctrl-C / SIGTERM."""
    settings = settings_from(config)
    runtime = Runtime(settings)
    locks = lock_groups(settings, [group]) if settings.stream_location.startswith("sqlite") else []
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
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
