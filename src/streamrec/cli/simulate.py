"""``streamrec simulate``: simulated shoppers against a running server (streamrec.simulate)."""

from __future__ import annotations

import re
import time
from typing import Annotated

import httpx
import typer
from rich.console import Console

from streamrec.cli.common import ConfigOption, settings_from, with_tracking_id
from streamrec.errors import StreamrecError, ValidationError
from streamrec.events import MAX_ID_LENGTH
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
    check_url(url)
    check_prefix(prefix, shoppers)
    settings = with_tracking_id(settings_from(config))
    users = [f"{prefix}{k}" for k in range(shoppers)]
    try:
        with httpx.Client(base_url=url, timeout=30.0) as client:
            report = simulate(
                client,
                settings.tracking_id or "",
                users,
                seed,
                ShopperModel(n_items=items),
                lambda: time.sleep(settle_s),
            )
    except httpx.HTTPStatusError as exc:
        raise StreamrecError(refused(exc)) from exc
    except httpx.HTTPError as exc:  # connection refused, timed out, a broken answer
        raise ValidationError("--url", f"cannot reach {url} ({reason(exc)})") from exc
    out.print(
        f"{report.shoppers} shoppers, {report.recommendations} recommendations, "
        f"{report.clicks} clicks, {report.carts} add-to-carts, {report.purchases} purchases, "
        f"revenue {report.revenue:.2f}; variants {report.variants}"
    )


def check_url(url: str) -> None:
    """An http(s) URL with a host, else a ValidationError naming --url (before any work)."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL as exc:
        raise ValidationError("--url", f"{url!r} is not a URL: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise ValidationError("--url", f"{url!r} is not an http:// or https:// URL")
    if not parsed.host:
        raise ValidationError("--url", f"{url!r} names no host")


def check_prefix(prefix: str, shoppers: int) -> None:
    """Shopper ids (PREFIX0 ... PREFIX<shoppers - 1>) the API takes, else a ValidationError
    naming --prefix (before any request, not a 400 from the server mid-run)."""
    longest = len(f"{prefix}{shoppers - 1}")
    if longest > MAX_ID_LENGTH:
        raise ValidationError(
            "--prefix",
            f"makes shopper ids of up to {longest} characters; the API takes at most"
            f" {MAX_ID_LENGTH}",
        )


def reason(exc: httpx.HTTPError) -> str:
    """Why a request got no answer, in a few words: "connection refused", "timed out"."""
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    text = re.sub(r"^\[Errno -?\d+\] ", "", str(exc)).strip() or type(exc).__name__
    return text[:1].lower() + text[1:]


def refused(exc: httpx.HTTPStatusError) -> str:
    """A request the server answered with an error status, with the start of its body when
    that is JSON (streamrec's error bodies; another server's HTML page would only be noise)."""
    request, response = exc.request, exc.response
    is_json = "json" in response.headers.get("content-type", "")
    body = " ".join(response.text.split())[:200] if is_json else ""
    return (
        f"{request.method} {request.url} answered {response.status_code}"
        f" {response.reason_phrase}" + (f": {body}" if body else "")
    )
