"""``streamrec lake``: query, erase, compact and count the Parquet lake. Thin: calls streamrec.lake."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import duckdb
import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from streamrec.cli.common import ConfigOption, identifier, settings_from
from streamrec.errors import ValidationError
from streamrec.lake import LakeReader, compact, compact_all, erase_user

MAX_PRINTED_ROWS = 1000

lake_app = typer.Typer(
    help="The Parquet data lake: SQL, erasure, compaction, statistics.", no_args_is_help=True
)
out = Console()


def register(app: typer.Typer) -> None:
    app.add_typer(lake_app, name="lake")


@lake_app.command("query")
def cmd_query(
    sql: Annotated[
        str,
        typer.Argument(
            help='SQL over table "events" (also recommendations, events_raw, erasures).'
        ),
    ],
    config: ConfigOption = None,
    limit: Annotated[int, typer.Option(help="Most rows printed.")] = MAX_PRINTED_ROWS,
) -> None:
    """Run SQL with DuckDB over the lake and print the result as a table."""
    try:
        result = LakeReader(settings_from(config).lake_location).query(sql)
    except duckdb.Error as exc:  # SQL DuckDB refuses (syntax, unknown table): the user's input
        raise ValidationError("SQL", one_line(str(exc))) from exc
    out.print(render(result, limit))


@lake_app.command("erase")
def cmd_erase(
    user_id: Annotated[str, typer.Argument(help="The user whose rows are removed.")],
    config: ConfigOption = None,
) -> None:
    """Remove USER_ID's rows from every lake file now (and from any written later by compaction)."""
    identifier(user_id, "USER_ID")
    removed = erase_user(settings_from(config).lake_location, user_id)
    out.print(f"erased {removed} rows of user {user_id!r}")


@lake_app.command("compact")
def cmd_compact(
    config: ConfigOption = None,
    day: Annotated[str | None, typer.Option(help="Only this day (YYYY-MM-DD).")] = None,
) -> None:
    """Merge small files, drop duplicate event ids and erased users' rows."""
    location = settings_from(config).lake_location
    report = compact(location, day) if day else compact_all(location)
    out.print(
        f"files {report.files_before} -> {report.files_after}, rows dropped {report.rows_dropped}"
    )


@lake_app.command("stats")
def cmd_stats(config: ConfigOption = None) -> None:
    """Files, rows, bytes and days stored."""
    stats = LakeReader(settings_from(config).lake_location).stats()
    out.print(f"files {stats.files}, rows {stats.rows}, bytes {stats.bytes}, days {stats.days}")
    out.print("(rows: events and recorded recommendations, duplicates included until compaction;")
    out.print(' `lake query "SELECT count(*) FROM events"` counts the events alone)')


def render(result: pa.Table, limit: int) -> Table:
    """The first `limit` rows of an Arrow table as a rich table."""
    table = Table(*result.column_names, caption=_caption(result.num_rows, limit))
    for row in result.slice(0, limit).to_pylist():
        table.add_row(*(_cell(v) for v in row.values()))
    return table


def one_line(message: str) -> str:
    """DuckDB's message on one line: its lines joined, the caret line under the query left out."""
    lines = (line.strip() for line in message.splitlines())
    return " ".join(line for line in lines if line.strip("^ "))


def _caption(rows: int, limit: int) -> str:
    return f"{rows} rows" if rows <= limit else f"{limit} of {rows} rows"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return str(value)
