"""``streamrec simulate``: simulated shoppers against a running server (streamrec.simulate)."""

from __future__ import annotations

import time
from typing import Annotated

import httpx
import typer
from rich.console import Console

from streamrec.cli.common import ConfigOption, settings_from, with_tracking_id
from streamrec.simulate import ShopperModel, simulate

out = Console()


def register(app: typer.Typer) -> None:
    app.command("simulate")(cmd_simulate)


def cmd_simulate(
    url: Annotated[str, typer.Option(help="The server.")] = "http://127.0.0.1:8080",
    shoppers: Annotated[int, typer.Option(min=1, help="Shoppers, one visit each.")] = 500,
    seed: Annotated[int, typer.Option(help="Seeds the shoppers' tastes and choices.")] = 0,
    items: Annotated[
        int, typer.Option(min=1, help="The synthetic shop's size (item-0 ...).")
    ] = 200,
    prefix: Annotated[str, typer.Option(help="Shopper ids: PREFIX0, PREFIX1, ...")] = "shopper",
    settle_s: Annotated[
        float, typer.Option(help="Seconds for the server to apply the views.")
    ] = 2.0,
    config: ConfigOption = None,
) -> None:
    """Shoppers with hidden tastes view items, ask for recommendations, then click, add to
    cart and buy with probabilities that grow with how well the items fit them. Run an
    experiment (PUT /v1/experiments/NAME) first; its results are then at GET /v1/experiments/NAME
    once the attribution group has the events."""
    settings = with_tracking_id(settings_from(config))
    users = [f"{prefix}{k}" for k in range(shoppers)]
    with httpx.Client(base_url=url, timeout=30.0) as client:
        report = simulate(
            client,
            settings.tracking_id or "",
            users,
            seed,
            ShopperModel(n_items=items),
            lambda: time.sleep(settle_s),
        )
    out.print(
        f"{report.shoppers} shoppers, {report.recommendations} recommendations, "
        f"{report.clicks} clicks, {report.carts} add-to-carts, {report.purchases} purchases, "
        f"revenue {report.revenue:.2f}; variants {report.variants}"
    )
