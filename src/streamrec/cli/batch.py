"""``streamrec recommend-batch`` and ``streamrec segments``: batch inference and item-affinity
segments over what the API serves (:mod:`streamrec.jobs`)."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from streamrec.cli.common import (
    ConfigOption,
    identifier,
    input_file,
    output_file,
    settings_from,
)
from streamrec.errors import ValidationError
from streamrec.filters import ParamValue, compile_filter
from streamrec.jobs import item_affinity, read_users, recommend_batch, write_segment
from streamrec.jobs.parallel import recommend_batch_parallel
from streamrec.lake.reader import LakeReader
from streamrec.models.registry import ModelRegistry
from streamrec.runtime import Runtime
from streamrec.serving.batch import BatchScorer
from streamrec.serving.state_snapshot import replay_retained

out = Console(stderr=True, soft_wrap=True)


@contextlib.contextmanager
def serving_runtime(config: Path | None, campaign: str | None) -> Iterator[Runtime]:
    """A Runtime whose serving state is what an API process starting now would have: the
    snapshot and the stream's events after it (so co-occurrence and counts match), with the
    active model and the catalogue's index loaded."""
    settings = settings_from(config)
    configured = settings.campaign
    if campaign:
        settings = dataclasses.replace(settings, campaign=campaign)
    if campaign and campaign != configured:
        require_campaign(ModelRegistry(settings), campaign)  # named before the runtime opens
    runtime = Runtime(settings)
    try:
        replay_retained(runtime.event_log, runtime.state_feed, runtime.user_state.positions())
        BatchScorer(runtime.recommendations).load()
        yield runtime
    finally:
        runtime.close()


def require_campaign(models: ModelRegistry, campaign: str) -> None:
    """A --campaign other than the configured one must point at a model: without one the batch
    would silently be the fallback's (co-occurrence, popularity). The configured campaign needs
    none, so a fresh install answers before its first model, as the API does."""
    if models.campaign_version(campaign) is None:
        known = ", ".join(sorted(models.campaigns())) or "none yet"
        raise ValidationError("--campaign", f"no campaign {campaign!r} (known: {known})")


def filter_params_of(text: str | None) -> dict[str, ParamValue]:
    """``--filter-params '{"GENRES": ["Comedy"], "MAX": 20}'`` as the filter's parameters."""
    if not text:
        return {}
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationError("filter-params", f"must be a JSON object: {exc.msg}") from exc
    if not isinstance(raw, dict):
        raise ValidationError("filter-params", "must be a JSON object")
    return {str(k): _param(str(k), v) for k, v in raw.items()}


def _param(name: str, value: object) -> ParamValue:
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list) and all(isinstance(v, str | bool | int | float) for v in value):
        return [v if isinstance(v, str | bool) else float(v) for v in value]
    raise ValidationError(f"filter-params.{name}", "must be text, a number, a boolean or a list")


def progress_bar(label: str) -> Progress:
    return Progress(
        TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
        TimeRemainingColumn(), console=out, transient=False,
    )  # fmt: skip


def cmd_recommend_batch(
    users: Annotated[
        str, typer.Option(help='File of user ids, one a line (or {"userId"}); - for stdin.')
    ],
    out_path: Annotated[Path, typer.Option("--out", help="JSON lines output (appended; resumes).")],
    n: Annotated[int, typer.Option(min=1, max=500, help="Items per user.")] = 25,
    campaign: Annotated[str | None, typer.Option(help="Campaign (default: the setting).")] = None,
    filter_text: Annotated[
        str | None, typer.Option("--filter", help="A filter expression.")
    ] = None,
    filter_params: Annotated[
        str | None, typer.Option(help='Filter parameters as JSON, e.g. {"G": "Comedy"}.')
    ] = None,
    workers: Annotated[int, typer.Option(min=0, help="Scoring processes; 0: one per core.")] = 0,
    config: ConfigOption = None,
) -> None:
    """Recommendations for many users: one JSON line each, as GET /v1/recommendations answers.
    Run it again after a crash with the same --out: users already written are skipped."""
    output_file(out_path, "--out")  # bad paths and filters are named before any work
    params = filter_params_of(filter_params)
    if filter_text:
        compile_filter(filter_text, params)
    if users == "-":
        try:
            ids = read_users(sys.stdin)
        except UnicodeDecodeError as exc:
            raise ValidationError("--users", "standard input is not UTF-8 text") from exc
    else:
        with input_file(Path(users), "--users").open(encoding="utf-8") as fh:
            ids = read_users(fh)
    with serving_runtime(config, campaign) as runtime, progress_bar("users") as bar:
        task = bar.add_task("users", total=len(ids))
        processes = workers or os.cpu_count() or 1

        def report(done: int) -> None:
            bar.update(task, completed=done)

        started, cpu_started = time.perf_counter(), cpu_seconds()
        if processes > 1:
            outcome = recommend_batch_parallel(
                runtime.recommendations, runtime.settings, ids, out_path, n, processes,
                filter_text, params, report,
            )  # fmt: skip
        else:
            outcome = recommend_batch(
                runtime.recommendations, ids, out_path, n, filter_text, params, report
            )
        elapsed, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    rate = outcome.written / elapsed if elapsed > 0 else 0.0
    per_user = 1000 * cpu / outcome.written if outcome.written else 0.0
    out.print(
        f"{outcome.written} users written to {out_path} ({outcome.skipped} were already there)"
        f" in {elapsed:.2f} s ({rate:,.0f} users/s on {processes} scoring process(es), CPU"
        f" {per_user:.3f} ms per user; loading the model and serving state before it not"
        " counted)"
    )


def cpu_seconds() -> float:
    """CPU time (user and system) of this process and of its children that have ended."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


# Every user in the lake, an aliased anonymous id as its user (streamrec.aliases).
SEGMENT_USERS_SQL = """
SELECT user_id FROM events WHERE event_type <> '$alias'
    AND user_id NOT IN (SELECT user_id FROM events WHERE event_type = '$alias')
UNION SELECT item_id FROM events WHERE event_type = '$alias'
ORDER BY user_id
"""


def cmd_segments(
    item: Annotated[list[str], typer.Option(help="An item id (repeat for several).")],
    out_path: Annotated[Path, typer.Option("--out", help="JSON lines output (replaced).")],
    size: Annotated[int, typer.Option(min=1, help="Users in the segment.")] = 1000,
    campaign: Annotated[str | None, typer.Option(help="Campaign (default: the setting).")] = None,
    config: ConfigOption = None,
) -> None:
    """The users most likely to interact with these items (Item-Affinity), best first: one
    {"user_id", "score"} line each, from every user in the lake."""
    output_file(out_path, "--out")
    for item_id in item:
        identifier(item_id, "--item")
    with serving_runtime(config, campaign) as runtime:
        table = LakeReader(runtime.settings.lake_location).query(SEGMENT_USERS_SQL)
        users = [str(u) for u in table.column("user_id").to_pylist()]
        with progress_bar("users") as bar:
            task = bar.add_task("users", total=len(users))
            segment = item_affinity(
                runtime.recommendations, item, users, size,
                lambda done: bar.update(task, completed=done),
            )  # fmt: skip
    write_segment(out_path, segment)
    out.print(f"{len(segment)} users written to {out_path}")


def register(app: typer.Typer) -> None:
    app.command("recommend-batch")(cmd_recommend_batch)
    app.command("segments")(cmd_segments)
