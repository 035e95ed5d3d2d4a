"""``streamrec import PATH``: historical interactions through the same stream and consumers.

The command returns once every enabled consumer group has processed the imported events, so a
command run right after it sees them. A group that no process is running (its lock in data_dir is
free) is run here until it has caught up; a group a server is running is waited for.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.console import Console

from streamrec.cli.common import ConfigOption, settings_from
from streamrec.errors import UnavailableError
from streamrec.importer import ImportReport, import_file
from streamrec.locks import GroupLock
from streamrec.runtime import Runtime

out = Console(soft_wrap=True)
# Large batches while catching up: one transaction per 20,000 events, not per 1,000.
IMPORT_BATCH_SIZE = 20_000
Format = Literal["csv", "jsonl", "movielens"]


def catch_up(runtime: Runtime, group: str, heads: dict[int, int], timeout_s: float) -> str:
    """Bring `group` up to `heads`: consume here if nobody else does, else wait for the server."""
    lock = GroupLock(runtime.settings.data_dir, group)
    if lock.try_acquire():
        try:
            runner = runtime.make_runner(group, batch_size=IMPORT_BATCH_SIZE, serving=False)
            runner.drain()
            runner.close()
            return "consumed here"
        finally:
            lock.release()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = runtime.event_log.status([group])
        if all(s.committed.get(group, 0) >= heads.get(s.shard, 0) for s in status):
            return "processed by the running server"
        time.sleep(0.2)
    raise UnavailableError(f"consumer group {group} did not catch up within {timeout_s:.0f} s")


def catch_up_all(
    runtime: Runtime, heads: dict[int, int], timeout_s: float
) -> list[tuple[str, str]]:
    """Every enabled group at once: SQLite releases the GIL while it writes, so the groups'
    transactions overlap instead of running one after another."""
    groups = runtime.enabled_groups()
    with ThreadPoolExecutor(max_workers=len(groups)) as pool:
        futures = [pool.submit(catch_up, runtime, g, heads, timeout_s) for g in groups]
        return [(g, f.result()) for g, f in zip(groups, futures, strict=True)]


def print_report(report: ImportReport) -> None:
    out.print(
        f"imported {report.path}: [green]{report.accepted:,} accepted[/green], "
        f"[red]{report.rejected:,} rejected[/red] in {report.elapsed_s:.1f} s "
        f"({report.rate:,.0f} rows/s)"
    )
    for line, message in report.errors:
        out.print(f"  line {line}: {message}")
    if report.rejected > len(report.errors):
        out.print(f"  ... and {report.rejected - len(report.errors):,} more")


def cmd_import(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    fmt: Annotated[str, typer.Option("--format", "-f", help="csv, jsonl or movielens")] = "csv",
    wait: Annotated[
        bool, typer.Option(help="Wait until every consumer group has the events.")
    ] = True,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for a server.")
    ] = 600,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
    config: ConfigOption = None,
) -> None:
    """Load historical interactions (csv, jsonl or MovieLens u.data) through the stream."""
    if fmt not in ("csv", "jsonl", "movielens"):
        raise typer.BadParameter(
            f"{fmt!r} is not one of csv, jsonl, movielens", param_hint="--format"
        )
    runtime = Runtime(settings_from(config))
    try:
        report = import_file(
            path, cast(Format, fmt), runtime.settings, runtime.event_log, progress=progress
        )
        print_report(report)
        if wait and report.accepted:
            heads = {s.shard: s.head for s in runtime.event_log.status()}
            for group, how in catch_up_all(runtime, heads, timeout_s):
                out.print(f"  consumer group {group}: {how}")
    finally:
        runtime.close()
    if report.accepted == 0 and report.rejected:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("import")(cmd_import)
