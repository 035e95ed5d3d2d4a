"""``streamrec cluster run`` / ``stop``: a whole distributed deployment on this machine."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from streamrec.cluster import (
    GROUPS,
    ClusterPlan,
    LocalCluster,
    running_supervisor,
    stop_leftovers,
    write_pid_file,
)
from streamrec.cluster.pids import SUPERVISOR
from streamrec.errors import StreamrecError, ValidationError
from streamrec.signals import setter_of
from streamrec.testing._process import port_open

out = Console(soft_wrap=True)
cluster_app = typer.Typer(
    help="Kafka + Redis + PostgreSQL + S3 and the streamrec processes, on this machine.",
    no_args_is_help=True,
)

DirOption = Annotated[
    Path, typer.Option("--dir", help="Where config, pid files, logs and server data go.")
]
RESTART_BACKOFF_S = 5.0


def _default_port() -> int:
    return int(os.environ.get("STREAMREC_PORT", "8080"))


def cmd_run(
    directory: DirOption = Path(".cluster"),
    port: Annotated[int | None, typer.Option(help="First API port (else STREAMREC_PORT).")] = None,
    apis: Annotated[int, typer.Option(help="API hosts, on consecutive ports.")] = 2,
    api_workers: Annotated[int, typer.Option(help="Worker processes of each API host.")] = 1,
    shards: Annotated[int, typer.Option(help="Kafka partitions (shard_count).")] = 2,
    consumers: Annotated[int, typer.Option(help="Processes per consumer group.")] = 1,
    retrain_interval: Annotated[
        float, typer.Option(help="Seconds between retrains (0: no retraining job).")
    ] = 600.0,
) -> None:
    """Start the servers and every streamrec process; Ctrl-C (or `cluster stop`) stops them all."""
    running = running_supervisor(directory)
    if running is not None:
        raise StreamrecError(
            f"a cluster is already running from {directory} (pid {running}); "
            "`make stop-cluster` stops it"
        )
    leftovers = stop_leftovers(directory)
    if leftovers:
        out.print(f"stopped leftovers of an earlier run: {', '.join(leftovers)}")
    plan = ClusterPlan(
        directory=directory,
        port=port or _default_port(),
        api_count=apis,
        api_workers=api_workers,
        shard_count=shards,
        instances=dict.fromkeys(GROUPS, consumers),
        retrain_interval_s=retrain_interval,
    )
    check_plan(plan)
    stop = threading.Event()
    supervising = threading.Event()

    set_stop = setter_of(stop)

    def on_signal(signum: int, frame: FrameType | None) -> None:
        set_stop(signum, frame)  # not stop.set() here: see streamrec.signals
        if not supervising.is_set():
            raise KeyboardInterrupt  # still starting: abort the start (it stops what it began)

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    pid_file = directory / "pids" / f"{SUPERVISOR}.pid"
    write_pid_file(pid_file, os.getpid(), signal.SIGTERM)
    cluster = LocalCluster(plan)
    out.print("starting Kafka, Redis, PostgreSQL and s3proxy (the first run installs them)...")
    try:
        cluster.start()
        _print_endpoints(cluster)
        supervising.set()
        _supervise(cluster, stop)
    except KeyboardInterrupt:
        pass
    finally:
        supervising.set()  # a second signal must not interrupt the orderly stop
        out.print("stopping...")
        cluster.stop()
        pid_file.unlink(missing_ok=True)
        out.print("stopped")


MAX_SHARDS = 4096  # as shard_count's own limit (config.py)


def check_plan(plan: ClusterPlan) -> None:
    """The options a start would otherwise refuse only after Kafka, Redis, PostgreSQL and
    s3proxy had started (10-20 s, and for --shards 0 Kafka's own traceback): each a
    ValidationError naming the option, before anything starts."""
    if plan.api_count < 1:
        raise ValidationError("--apis", f"must be at least 1, got {plan.api_count}")
    if plan.api_workers < 0:
        raise ValidationError("--api-workers", f"must not be negative, got {plan.api_workers}")
    if not 1 <= plan.shard_count <= MAX_SHARDS:
        raise ValidationError("--shards", f"must be 1-{MAX_SHARDS}, got {plan.shard_count}")
    if min(plan.instances.values(), default=1) < 1:
        raise ValidationError(
            "--consumers", f"must be at least 1, got {min(plan.instances.values())}"
        )
    if plan.retrain_interval_s < 0:
        raise ValidationError(
            "--retrain-interval", f"must not be negative, got {plan.retrain_interval_s}"
        )
    if plan.port < 1 or plan.api_ports[-1] > 65535:
        raise ValidationError("--port", f"the API ports must be 1-65535, got {plan.api_ports}")
    taken = [p for p in plan.api_ports if port_open(p)]
    if taken:
        raise ValidationError("--port", f"ports already in use: {taken} (set STREAMREC_PORT)")


def _streamrec_command() -> str:
    """How to run this streamrec from a shell: the script beside this Python (``.venv/bin/``),
    since a virtual environment's bin directory is rarely on PATH."""
    script = Path(sys.executable).parent / "streamrec"
    return os.path.relpath(script) if script.exists() else "streamrec"


def _print_endpoints(cluster: LocalCluster) -> None:
    table = Table("process", "listens on / pid", title="streamrec cluster")
    for name, where in cluster.endpoints():
        table.add_row(name, where)
    out.print(table)
    for note in cluster.notes:
        out.print(f"[yellow]note:[/yellow] {note}")
    out.print(f"config : {cluster.config_path}")
    out.print(f"logs   : {cluster.directory / 'logs'}")
    out.print(f"use it : {_streamrec_command()} --config {cluster.config_path} <command>")
    out.print(f"tracking id: {cluster.directory / 'tracking_id'}")
    out.print("Ctrl-C or `make stop-cluster` stops everything.")


def _supervise(cluster: LocalCluster, stop: threading.Event) -> None:
    """Wait for Ctrl-C; restart a member that exits on its own (at most once per backoff; a
    consumer once the broker evicted its dead instance, see LocalCluster.restart)."""
    last_restart: dict[str, float] = {}
    while not stop.wait(1.0):
        for member in list(cluster.crashed()):
            if time.monotonic() - last_restart.get(member.name, -1e9) < RESTART_BACKOFF_S:
                continue
            last_restart[member.name] = time.monotonic()
            out.print(f"[red]{member.name} exited[/red] (see {member.log_path}); restarting")
            try:
                cluster.restart(member.name)
            except (OSError, StreamrecError) as exc:
                out.print(f"[red]restart of {member.name} failed:[/red] {exc}")


def cmd_stop(directory: DirOption = Path(".cluster")) -> None:
    """Stop a running `cluster run` (it stops its processes in order), then anything a crash
    left behind (from the pid files)."""
    stopped = stop_leftovers(directory)
    out.print(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")


def register(app: typer.Typer) -> None:
    cluster_app.command("run")(cmd_run)
    cluster_app.command("stop")(cmd_stop)
    app.add_typer(cluster_app, name="cluster")
