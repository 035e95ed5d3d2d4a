"""``streamrec import PATH``: historical interactions through the same stream and consumers.

The command returns once every enabled consumer group has committed every imported event, so a
command run right after it sees them. A group no process consumes (embedded: its lock in
data_dir is free; Kafka: its consumer group has no member) is run here until it has caught up; a
group that runs anywhere is only waited for, from its committed offsets, never joined (joining a
running Kafka group would take partitions from its consumers mid-batch).
"""

from __future__ import annotations

import time
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Annotated, Literal, cast

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from streamrec.cli.common import (
    ConfigOption,
    exit_if_every_row_rejected,
    input_file,
    settings_from,
)
from streamrec.errors import UnavailableError
from streamrec.importer import ImportReport, check_csv_header, import_file
from streamrec.locks import GroupLock
from streamrec.runtime import Runtime

out = Console(soft_wrap=True)
# Large batches while catching up: one transaction per 20,000 events, not per 1,000.
IMPORT_BATCH_SIZE = 20_000
PROGRESS_INTERVAL_S = 0.2
Format = Literal["csv", "jsonl", "movielens"]


def consume_here(runtime: Runtime, group: str) -> None:
    runner = runtime.make_runner(group, batch_size=IMPORT_BATCH_SIZE, serving=False)
    runner.drain()
    runner.close()


def take_free_groups(runtime: Runtime) -> tuple[list[str], list[GroupLock]]:
    """The enabled groups no process consumes, which this command consumes itself; the others
    it only waits for, never joining their groups. On the embedded log a running consumer holds
    the group's lock in data_dir (taken here for the free ones); on Kafka the group's members
    are asked of the broker."""
    free, locks = [], []
    for group in runtime.enabled_groups():
        members = runtime.event_log.group_members(group)
        if members is not None:
            if members == 0:
                free.append(group)
            continue
        lock = GroupLock(runtime.settings.data_dir, group)
        if lock.try_acquire():
            free.append(group)
            locks.append(lock)
    return free, locks


def catch_up_all(
    runtime: Runtime,
    heads: dict[int, int],
    timeout_s: float,
    show: bool = True,
    since: dict[int, int] | None = None,
) -> list[tuple[str, str]]:
    """Every enabled group up to ``heads``: consumed here when nobody else does (all at once:
    SQLite releases the GIL while it writes, so the groups' transactions overlap), else waited
    for. Progress per group (rows applied, lag) is drawn from the stream's committed offsets;
    ``since`` (the heads before the import appended) makes every bar count the import's rows."""
    groups = runtime.enabled_groups()
    free, locks = take_free_groups(runtime)
    try:
        with ThreadPoolExecutor(max_workers=max(1, len(free))) as pool:
            work = {g: pool.submit(consume_here, runtime, g) for g in free}
            with GroupProgress(runtime, groups, heads, show, since) as progress:
                progress.wait(work, timeout_s)
    finally:
        for lock in locks:
            lock.release()
    return [
        (g, "consumed here" if g in free else "processed by its running consumers") for g in groups
    ]


class GroupProgress:
    """One progress bar per consumer group: rows of the import it has committed, and its lag.

    With ``since`` every bar's total is the rows appended after it (the import's), the same for
    every group, however far each had got when the bars appeared; without it, the rows each
    group still had to apply then."""

    def __init__(
        self,
        runtime: Runtime,
        groups: list[str],
        heads: dict[int, int],
        show: bool,
        since: dict[int, int] | None = None,
    ) -> None:
        self._log = runtime.event_log
        self._groups = groups
        self._heads = heads
        start = self._committed()
        self._total = {g: sum(max(0, h - (since or start[g]).get(s, 0)) for s, h in heads.items())
                       for g in groups}  # fmt: skip
        self._progress = Progress(
            TextColumn("  consumer group {task.description:<9}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("lag {task.fields[lag]:,}"),
            TimeElapsedColumn(),
            console=out,
            disable=not show,
        )
        self._lag = dict.fromkeys(groups, 0)
        self._tasks = {g: self._progress.add_task(g, total=self._total[g] or 1, lag=0)
                       for g in groups}  # fmt: skip

    @property
    def totals(self) -> dict[str, int]:
        """Rows each group's bar counts up to."""
        return dict(self._total)

    def applied(self) -> dict[str, int]:
        """Rows of those each group has committed (its bar's position)."""
        return {g: int(self._progress.tasks[t].completed) for g, t in self._tasks.items()}

    def __enter__(self) -> GroupProgress:
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()

    def _committed(self) -> dict[str, dict[int, int]]:
        status = self._log.status(self._groups)
        return {g: {s.shard: s.committed.get(g, 0) for s in status} for g in self._groups}

    def update(self) -> bool:
        """Redraw; True when every group has committed every imported event."""
        committed = self._committed()
        done = True
        for g in self._groups:
            lag = sum(max(0, h - committed[g].get(s, 0)) for s, h in self._heads.items())
            self._lag[g] = lag
            done = done and lag == 0
            applied = min(self._total[g], max(0, self._total[g] - lag))
            self._progress.update(self._tasks[g], completed=applied if self._total[g] else 1,
                                  lag=lag)  # fmt: skip
        return done

    def wait(self, work: dict[str, Future[None]], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not self.update():
            for future in work.values():
                if future.done():
                    future.result()  # a consumer that failed here: raise its error
            if time.monotonic() > deadline:
                late = ", ".join(f"{g} (lag {lag:,})" for g, lag in self._lag.items() if lag)
                raise UnavailableError(
                    f"consumer group(s) {late} did not catch up within {timeout_s:.0f} s; the"
                    " events are in the stream and the groups go on applying them"
                )
            time.sleep(PROGRESS_INTERVAL_S)
        for future in work.values():
            future.result()


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
    check_import_file(path, fmt)
    runtime = Runtime(settings_from(config))
    try:
        report = run_import(runtime, path, cast(Format, fmt), wait, timeout_s, progress)
    finally:
        runtime.close()
    exit_if_every_row_rejected(report.accepted, report.rejected)


def check_import_file(path: Path, fmt: str) -> None:
    """What can be refused in the file before the stream and the serving state are opened: a
    file that is not UTF-8 text, a CSV header without the required columns."""
    input_file(path, "PATH")
    if fmt == "csv":
        check_csv_header(path)


def run_import(
    runtime: Runtime, path: Path, fmt: Format, wait: bool, timeout_s: float, progress: bool
) -> ImportReport:
    """Append the file to the stream, then (``wait``) bring every group up to it."""
    started = time.perf_counter()
    before = {s.shard: s.head for s in runtime.event_log.status()}
    report = import_file(path, fmt, runtime.settings, runtime.event_log, progress=progress)
    print_report(report)
    if wait and report.accepted:
        heads = {s.shard: s.head for s in runtime.event_log.status()}
        for group, how in catch_up_all(runtime, heads, timeout_s, progress, before):
            out.print(f"  consumer group {group}: {how}")
        elapsed = time.perf_counter() - started
        out.print(f"every consumer group has the events: {elapsed:.1f} s in all")
    return report


def register(app: typer.Typer) -> None:
    app.command("import")(cmd_import)
