"""`streamrec evaluate`: a protocol of EVALUATION.md measured on what the service serves.

The training part of the dataset is imported into a temporary data dir through the stream and
the consumers, each recipe is trained from its lake and activated, and every test user's top k
comes from the same call ``GET /v1/recommendations/{user}`` makes (see
:mod:`streamrec.training.served`). Figures carry 95% bootstrap intervals over test users; the
model scored alone, in one batch, is shown as a diagnostic.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import pyarrow as pa
import typer
from rich.console import Console
from rich.table import Table

from streamrec.datasets import FORMATS, load_dataset
from streamrec.errors import StreamrecError, ValidationError
from streamrec.recommenders.registry import RECIPES
from streamrec.training.served import RecipeRun, ServedResult, evaluate_served, parse_recipe_runs
from streamrec.training.served_data import PROTOCOLS

__all__ = ["register", "results_table"]

# the variants each recipe has (`NAME:VARIANT`, training.served.VARIANTS)
RECIPE_VARIANTS = {"ease": ("tuned",), "als": ("tuned",), "hybrid": ("sequence",)}
# "\\[": a literal bracket in typer's rich help, which would read [sequential] as markup
RECIPE_HELP = (
    f"all, or a comma-separated list of: {', '.join(RECIPES)}; "
    "ease:tuned, als:tuned tune on a validation split of the training data; hybrid:sequence "
    "adds the SASRec term (needs streamrec\\[sequential]), its weight learned on that split"
)


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the streamrec CLI."""
    app.command("evaluate")(evaluate_command)


def evaluate_command(
    dataset: Path = typer.Option(..., "--dataset", help="file or folder of the dataset"),
    fmt: str = typer.Option("csv", "--format", help=f"one of: {', '.join(FORMATS)}"),
    recipe: str = typer.Option("all", "--recipe", help=RECIPE_HELP),
    protocol: str = typer.Option("leave-last-out", "--protocol", help=" or ".join(PROTOCOLS)),
    k: int = typer.Option(10, "--k", min=1, max=500),
    seed: int = typer.Option(0, "--seed", help="seed of the bootstrap intervals"),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
    keep: Path | None = typer.Option(None, "--keep-data", help="keep the data dir here"),
    restart: bool = typer.Option(
        False,
        "--restart-after-import",
        help="serve from a process started after the import (its stream co-occurrence starts "
        "empty) instead of one running while the import goes in",
    ),
) -> None:
    """Train each recipe on the training part, serve it, and report HR and NDCG with 95% CIs."""
    if protocol not in PROTOCOLS:
        raise typer.BadParameter(f"one of {', '.join(PROTOCOLS)}", param_hint="--protocol")
    runs = recipe_runs(recipe)
    try:
        table = load_dataset_option(dataset, fmt)
        say = None if as_json else (lambda line: typer.echo(line, err=True))
        results = evaluate_served(
            table, protocol, runs, seed, workdir=keep, progress=say, k=k,
            restart_after_import=restart,
        )  # fmt: skip
    except StreamrecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        n = results[0].n_test_users if results else 0
        Console().print(results_table(results, k, f"{dataset}, {protocol} ({n} test users)"))


# the fields load_dataset names that are this command's options
DATASET_OPTIONS = {"dataset": "--dataset", "format": "--format"}


def load_dataset_option(dataset: Path, fmt: str) -> pa.Table:
    """``load_dataset``, its errors naming the option (``--dataset``, ``--format``) where they
    are about one, as other commands name theirs; errors about the content stay as they are."""
    try:
        return load_dataset(dataset, fmt)
    except ValidationError as exc:
        option = DATASET_OPTIONS.get(exc.field)
        if option is None:
            raise
        raise ValidationError(option, exc.message) from exc


def recipe_runs(recipe: str) -> list[RecipeRun]:
    """``all`` (every recipe), or the comma-separated names; BadParameter naming an unknown one."""
    names = list(RECIPES) if recipe == "all" else [r.strip() for r in recipe.split(",") if r]
    for name in names:
        base, _, variant = name.partition(":")
        if base not in RECIPES or (variant and variant not in RECIPE_VARIANTS.get(base, ())):
            raise typer.BadParameter(f"unknown recipe {name!r}", param_hint="--recipe")
    return parse_recipe_runs(names)


def results_table(results: list[ServedResult], k: int, title: str) -> Table:
    """One row per recipe; with several, each later one's NDCG@k minus the first's over the
    same test users (a paired bootstrap interval: ``ServedResult.paired``)."""
    table = Table(title=title)
    paired = len(results) > 1
    columns = [f"HR@{k} [95% CI]", f"NDCG@{k} [95% CI]"]
    columns += [f"NDCG@{k} minus {results[0].recipe}'s, paired"] if paired else []
    columns += [f"model-only NDCG@{k}", "train s"]
    table.add_column("recipe", justify="left")
    for col in columns:
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(r.recipe, *_cells(r, k, paired))
    return table


def _cells(r: ServedResult, k: int, paired: bool) -> list[str]:
    if r.error:
        return ["-"] * (4 if paired else 3) + [f"refused: {r.error}"]
    model = r.model_only.get(f"ndcg@{k}")
    cells = [r.served[f"hr@{k}"].format(), r.served[f"ndcg@{k}"].format()]
    if paired:
        diff = r.paired.get(f"ndcg@{k}")
        cells.append(f"{diff.value:+.4f} [{diff.low:+.4f}, {diff.high:+.4f}]" if diff else "-")
    return [*cells, model.format() if model else "-", f"{r.train_time_s:.1f}"]
