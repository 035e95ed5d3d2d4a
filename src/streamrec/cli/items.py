"""``streamrec import-items PATH --format csv|jsonl|movielens``: load the item catalogue.

Writes straight to the catalogue database; a running server notices the change within a second
(the catalogue's version counter), so no restart is needed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streamrec.catalogue import open_catalogue
from streamrec.catalogue.importer import FORMATS, import_items
from streamrec.cli.common import ConfigOption, exit_if_every_row_rejected, settings_from
from streamrec.errors import ValidationError

out = Console()


def cmd_import_items(
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="File to import.")],
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="csv, jsonl or movielens (u.item)")
    ] = "csv",
    config: ConfigOption = None,
) -> None:
    """Import items (title, categories, properties, created_at, hidden) into the catalogue."""
    if fmt not in FORMATS:
        raise ValidationError("--format", f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    settings = settings_from(config)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    catalogue = open_catalogue(settings)
    try:
        report = import_items(catalogue, path, fmt)
        total = catalogue.count()
    finally:
        catalogue.close()
    out.print(f"items accepted: {report.accepted}, rejected: {report.rejected}; catalogue: {total}")
    for line, message in report.errors:
        out.print(f"  line {line}: {message}")
    if report.rejected > len(report.errors):
        out.print(f"  ... and {report.rejected - len(report.errors)} more")
    exit_if_every_row_rejected(report.accepted, report.rejected)


def register(app: typer.Typer) -> None:
    app.command("import-items")(cmd_import_items)
