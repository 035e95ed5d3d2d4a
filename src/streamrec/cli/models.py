"""``streamrec train``, ``models list``, ``campaign set`` and ``retrain``: thin calls to models/."""

from __future__ import annotations

import contextlib
import threading
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Column, Table

from streamrec.cli.common import ConfigOption, settings_from
from streamrec.models.registry import DEFAULT_REFRESH_S, ModelRegistry
from streamrec.signals import set_on_signals

out = Console(soft_wrap=True)  # a message is one line however long

models_app = typer.Typer(help="Trained model versions.", no_args_is_help=True)
campaign_app = typer.Typer(
    help="Campaigns: named pointers to model versions.", no_args_is_help=True
)


def servers_switch_note() -> str:
    """What running servers do once a campaign points at a new version: each checks the pointer
    at most every DEFAULT_REFRESH_S (on a request), loads the version in the background and
    swaps it in when it is loaded (ModelRegistry.active), the previous one serving meanwhile."""
    return (
        f"running servers load it at their next check (every {DEFAULT_REFRESH_S:g} s) and"
        " switch once it is loaded"
    )


def _metric(meta: dict[str, Any], name: str) -> str:
    value = (meta.get("metrics") or {}).get(name)
    return "-" if value is None else f"{float(value):.4f}"


def cmd_train(
    recipe: Annotated[
        str | None, typer.Option(help="Recipe (default: the recipe setting).")
    ] = None,
    activate: Annotated[bool, typer.Option(help="Point the campaign at the new version.")] = False,
    config: ConfigOption = None,
) -> None:
    """Train a model on the lake, evaluate it on a temporal hold-out and save a new version."""
    from streamrec.models.train import train

    settings = settings_from(config)
    meta = train(settings, recipe, activate)
    out.print(f"version [bold]{meta['version']}[/bold] ({meta['recipe']})")
    for name, value in meta["metrics"].items():
        out.print(f"  {name:<10} {value:.4f}")
    out.print(f"  events     {meta['n_events']}   training {meta['train_time_s']:.2f} s")
    if activate:
        out.print(
            f"campaign [bold]{settings.campaign}[/bold] now points at it; {servers_switch_note()}"
        )


def cmd_models_list(config: ConfigOption = None) -> None:
    """Every stored version, newest first, with offline metrics and the campaigns using it."""
    registry = ModelRegistry(settings_from(config))
    by_version: dict[str, list[str]] = {}
    for campaign, version in registry.campaigns().items():
        by_version.setdefault(version, []).append(campaign)
    # The version id starts with its UTC creation time, so no separate "created" column.
    table = Table("recipe", "hr@10", "ndcg@10", "events", "campaigns")
    table.columns.insert(0, Column("version", no_wrap=True, overflow="fold"))
    for meta in registry.list_versions():
        version = str(meta["version"])
        table.add_row(
            version, str(meta.get("recipe", meta.get("error", "?"))), _metric(meta, "hr@10"),
            _metric(meta, "ndcg@10"), str(meta.get("n_events", "-")),
            ", ".join(by_version.get(version, [])),
        )  # fmt: skip
    out.print(table)


def cmd_campaign_set(
    name: Annotated[str, typer.Argument(help="Campaign name (the API serves `campaign`).")],
    version: Annotated[str, typer.Argument(help="Model version to serve.")],
    config: ConfigOption = None,
) -> None:
    """Point a campaign at a version; running servers switch once they have loaded it."""
    active = ModelRegistry(settings_from(config)).set_campaign(name, version)
    out.print(f"campaign [bold]{name}[/bold] -> {active.version} ({active.recipe})")
    out.print(servers_switch_note())


def cmd_retrain(
    once: Annotated[bool, typer.Option(help="Train one challenger now and exit.")] = False,
    config: ConfigOption = None,
) -> None:
    """Retrain on schedule with the champion/challenger rule (a cluster's retraining job)."""
    from streamrec.models.retrain import Retrainer
    from streamrec.runtime import Runtime

    settings = settings_from(config)
    runtime = Runtime(settings)
    try:
        retrainer = Retrainer(settings, runtime.models, runtime.events_seen)
        if once:
            outcome = retrainer.run_once()
            verdict = "activated" if outcome.activated else "kept the champion"
            out.print(f"challenger {outcome.version} ndcg@10={outcome.challenger:.4f}: {verdict}")
            return
        if not retrainer.enabled:
            raise typer.BadParameter("set retrain_interval_s or retrain_after_events (or --once)")
        stop = threading.Event()
        set_on_signals(stop)
        out.print("retraining when due; Ctrl-C to stop")
        with contextlib.suppress(KeyboardInterrupt):
            retrainer.run(stop)
    finally:
        runtime.close()


def register(app: typer.Typer) -> None:
    app.command("train")(cmd_train)
    app.command("retrain")(cmd_retrain)
    models_app.command("list")(cmd_models_list)
    campaign_app.command("set")(cmd_campaign_set)
    app.add_typer(models_app, name="models")
    app.add_typer(campaign_app, name="campaign")
