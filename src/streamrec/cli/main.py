"""The ``streamrec`` command. Each command is thin: it loads settings and calls the library."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from streamrec.cli import service
from streamrec.config import CONFIG_ENV
from streamrec.errors import StreamrecError
from streamrec.s3 import quiet_client_logs

app = typer.Typer(
    name="streamrec",
    help="Self-hosted real-time personalization engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
# soft_wrap: an error is one line however long (rich would otherwise wrap it at 80 columns)
err = Console(stderr=True, soft_wrap=True)


def _register_optional(module_name: str) -> None:
    """Commands owned by other modules register themselves when present."""
    import importlib

    try:
        module = importlib.import_module(f"streamrec.cli.{module_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"streamrec.cli.{module_name}":
            raise
        return
    module.register(app)


service.register(app)
for _name in (
    "ingest",
    "lake",
    "evaluate",
    "models",
    "items",
    "cluster",
    "demo",
    "batch",
    "simulate",
):
    _register_optional(_name)


# Long-running processes keep the INFO log (restores, reloads, lag: a server's record); the
# other commands print their own outcome, and only warnings of the runtime under it reach their
# console, unless --verbose.
SERVER_COMMANDS = frozenset({"serve", "api", "consume", "retrain", "cluster"})


def console_log_level(command: str | None, verbose: bool) -> int:
    """The log level of ``streamrec COMMAND``: DEBUG with --verbose, INFO for a server, else
    WARNING."""
    if verbose:
        return logging.DEBUG
    return logging.INFO if command in SERVER_COMMANDS else logging.WARNING


@app.callback()
def _root(
    ctx: typer.Context,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Debug logging.")] = False,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config", "-c", help="TOML settings file for every command (as STREAMREC_CONFIG)."
        ),
    ] = None,
) -> None:
    if config is not None:
        # `streamrec --config FILE COMMAND`: commands read it through STREAMREC_CONFIG.
        os.environ[CONFIG_ENV] = str(config)
    logging.basicConfig(
        level=console_log_level(ctx.invoked_subcommand, verbose),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:
        quiet_client_logs()


def main() -> None:
    try:
        app()
    except StreamrecError as exc:
        err.print(f"[red]error:[/red] {escape(str(exc))}")
        sys.exit(2)
