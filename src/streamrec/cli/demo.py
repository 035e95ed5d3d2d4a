"""``streamrec demo movielens DIR``: the demo shop on a MovieLens folder in one command.

It does what the README's steps do one by one, in the order that keeps the shop whole: the
catalogue first (``u.item``: titles and genres, so no item is shown as a bare number), then the
ratings (``u.data``) through the stream, then a model trained on them and activated. It works with
``streamrec serve`` running (the import waits for the server's consumers; the server picks up
the catalogue within a second, and the model once it has loaded it) or without (it consumes the
events itself).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from streamrec.catalogue.importer import import_items
from streamrec.cli.common import ConfigOption, input_file, settings_from
from streamrec.cli.ingest import run_import
from streamrec.cli.models import servers_switch_note
from streamrec.errors import ValidationError
from streamrec.runtime import Runtime

out = Console(soft_wrap=True)
demo_app = typer.Typer(help="Load a public data set into the demo shop.", no_args_is_help=True)


def movielens_files(folder: Path) -> tuple[Path, Path]:
    """``u.item`` and ``u.data`` of a MovieLens 100k folder; ValidationError naming a missing one."""
    if not folder.is_dir():
        raise ValidationError("DIR", f"the directory {folder} does not exist")
    files = folder / "u.item", folder / "u.data"
    for path in files:
        if not path.is_file():
            raise ValidationError("DIR", f"{folder} has no {path.name} (a MovieLens 100k folder)")
    return files


@demo_app.command("movielens")
def cmd_demo_movielens(
    folder: Annotated[
        Path, typer.Argument(help="A MovieLens 100k folder (u.item and u.data).", file_okay=False)
    ],
    recipe: Annotated[str | None, typer.Option(help="Recipe to train (default: recipe).")] = None,
    timeout_s: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for a server's consumers.")
    ] = 600,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
    config: ConfigOption = None,
) -> None:
    """Catalogue (u.item), ratings (u.data) and a trained, activated model for the demo shop."""
    from streamrec.models.train import train

    items_path, data_path = movielens_files(folder)
    input_file(data_path, "DIR")  # u.data not UTF-8: refused before the catalogue is changed
    runtime = Runtime(settings_from(config))
    try:
        items = import_items(runtime.catalogue, items_path, "movielens")
        out.print(f"catalogue: {items.accepted:,} titles from {items_path}")
        report = run_import(runtime, data_path, "movielens", True, timeout_s, progress)
    finally:
        runtime.close()
    if report.accepted == 0:
        raise ValidationError("DIR", f"{data_path} holds no valid rating")
    meta = train(runtime.settings, recipe, activate=True)
    out.print(
        f"model {meta['version']} ({meta['recipe']}) trained on {meta['n_events']:,} events and"
        f" activated for campaign {runtime.settings.campaign}; {servers_switch_note()}; open /demo"
    )


def register(app: typer.Typer) -> None:
    app.add_typer(demo_app, name="demo")
