"""`streamrec evaluate`: the offline protocol of EVALUATION.md for one dataset and some recipes."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from streamrec.datasets import FORMATS, load_dataset
from streamrec.errors import StreamrecError
from streamrec.recommenders.registry import RECIPES
from streamrec.training.evaluate import EvaluationResult, evaluate_recipe, prepare

__all__ = ["register", "results_table"]


def register(app: typer.Typer) -> None:
    """Add the ``evaluate`` command to the streamrec CLI."""
    app.command("evaluate")(evaluate_command)


def evaluate_command(
    dataset: Path = typer.Option(..., "--dataset", help="file or folder of the dataset"),
    fmt: str = typer.Option("csv", "--format", help=f"one of: {', '.join(FORMATS)}"),
    recipe: str = typer.Option("all", "--recipe", help=f"all, or one of: {', '.join(RECIPES)}"),
    protocol: str = typer.Option("leave-last-out", "--protocol"),
    k: int = typer.Option(10, "--k", min=1, max=500),
    as_json: bool = typer.Option(False, "--json", help="print JSON instead of a table"),
) -> None:
    """Train each recipe on all but each user's last item and report HR, NDCG, MRR, coverage."""
    if protocol != "leave-last-out":
        raise typer.BadParameter("only 'leave-last-out' is implemented", param_hint="--protocol")
    recipes = list(RECIPES) if recipe == "all" else [recipe]
    unknown = [r for r in recipes if r not in RECIPES]
    if unknown:
        raise typer.BadParameter(f"unknown recipe {unknown[0]!r}", param_hint="--recipe")
    try:
        data = prepare(load_dataset(dataset, fmt))
    except StreamrecError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    results = [evaluate_recipe(data, r, k) for r in recipes]
    if as_json:
        typer.echo(json.dumps([asdict(r) for r in results], indent=2))
    else:
        Console().print(results_table(results, k, f"{dataset} ({data.test_users.size} test users)"))


def results_table(results: list[EvaluationResult], k: int, title: str) -> Table:
    table = Table(title=title)
    for col in ("recipe", f"HR@{k}", f"NDCG@{k}", f"MRR@{k}", "coverage", "train s"):
        table.add_column(col, justify="left" if col == "recipe" else "right")
    for r in results:
        if r.error:
            table.add_row(r.recipe, "-", "-", "-", "-", f"refused: {r.error}")
            continue
        m = r.metrics
        table.add_row(
            r.recipe,
            f"{m[f'hr@{k}']:.4f}",
            f"{m[f'ndcg@{k}']:.4f}",
            f"{m[f'mrr@{k}']:.4f}",
            f"{m['coverage']:.3f}",
            f"{r.train_time_s:.2f}",
        )
    return table
