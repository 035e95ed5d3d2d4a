"""Simulated shoppers for experiments: ``streamrec simulate`` drives them against a server.

Each shopper has a hidden taste (a sparse Dirichlet mix over the categories of the synthetic
shop, :mod:`streamrec.synthetic`, as the generator's users have). A visit:

1. the shopper views ``views`` items drawn from their taste (popular items of their
   categories more often), posted to ``POST /v1/events``;
2. once the server has the views (``settle``), the shopper asks
   ``GET /v1/recommendations/{id}?n=N`` and looks at each item shown: it clicks with
   probability ``click_scale * fit``, where ``fit`` is the shopper's taste for the item's
   category, then adds to cart with probability ``cart_prob`` and buys with ``buy_prob``
   (event_value: the item's price). Every event carries the recommendation_id, as tracker.js
   sends it.

A campaign that learns the shopper's taste from the views earns more clicks than one that
ignores them (popularity): that is what an experiment between the two must find. Seeded: the
same seed gives the same shoppers and the same choices for the same recommendations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import httpx
import numpy as np

from streamrec.synthetic import generate_catalogue, item_structure

__all__ = ["ShopperModel", "SimulationReport", "simulate"]

EVENTS_PER_POST = 500


@dataclasses.dataclass(frozen=True)
class ShopperModel:
    n_items: int = 200
    catalogue_seed: int = 0  # the synthetic shop's seed (items item-0 .. item-{n_items-1})
    views: int = 4
    n: int = 10
    click_scale: float = 0.25
    cart_prob: float = 0.4
    buy_prob: float = 0.5
    taste_concentration: float = 0.15


@dataclasses.dataclass
class SimulationReport:
    shoppers: int = 0
    recommendations: int = 0
    clicks: int = 0
    carts: int = 0
    purchases: int = 0
    revenue: float = 0.0
    variants: dict[str, int] = dataclasses.field(default_factory=dict)


class _Shop:
    """The synthetic shop's hidden structure: each item's category, popularity and price."""

    def __init__(self, model: ShopperModel) -> None:
        st = item_structure(model.n_items, model.catalogue_seed)
        self.category = st.category
        self.popularity = st.popularity
        self.n_categories = int(st.block_size.size)
        prices = generate_catalogue(model.n_items, model.catalogue_seed).column("price")
        self.price = np.asarray(prices.to_numpy(), dtype=np.float64)

    def draw(self, rng: np.random.Generator, taste: np.ndarray, k: int) -> list[int]:
        weights = taste[self.category] * self.popularity
        return [int(i) for i in rng.choice(self.category.size, k, p=weights / weights.sum())]


def _post(client: httpx.Client, headers: dict[str, str], events: list[dict[str, Any]]) -> None:
    for start in range(0, len(events), EVENTS_PER_POST):
        batch = events[start : start + EVENTS_PER_POST]
        response = client.post("/v1/events", json={"events": batch}, headers=headers)
        response.raise_for_status()


def _react(
    rng: np.random.Generator,
    shop: _Shop,
    model: ShopperModel,
    user: str,
    taste: np.ndarray,
    answer: dict[str, Any],
) -> Iterator[dict[str, Any]]:
    """The shopper's events on the recommendations shown."""
    rec_id = answer.get("recommendation_id")
    for entry in answer.get("items", []):
        item = str(entry["item_id"])
        index = int(item.removeprefix("item-")) if item.startswith("item-") else -1
        fit = float(taste[shop.category[index]]) if 0 <= index < shop.category.size else 0.0
        base = {"user_id": user, "item_id": item, "recommendation_id": rec_id}
        if rng.random() >= model.click_scale * fit:
            continue
        yield {**base, "event_type": "click"}
        if rng.random() < model.cart_prob:
            yield {**base, "event_type": "add_to_cart"}
            if rng.random() < model.buy_prob:
                yield {**base, "event_type": "purchase", "event_value": float(shop.price[index])}


def simulate(
    client: httpx.Client,
    tracking_id: str,
    shoppers: Sequence[str],
    seed: int,
    model: ShopperModel | None = None,
    settle: Callable[[], None] = lambda: None,
) -> SimulationReport:
    """One visit per shopper (see the module docstring); ``settle`` waits until the server has
    applied the views (a running server: a short wait; a test: drain its consumers)."""
    model = model or ShopperModel()
    shop = _Shop(model)
    rng = np.random.default_rng(seed)
    headers = {"X-Tracking-Id": tracking_id}
    alpha = np.full(shop.n_categories, model.taste_concentration)
    tastes = {user: rng.dirichlet(alpha) for user in shoppers}
    views = [
        {"user_id": user, "item_id": f"item-{i}", "event_type": "view"}
        for user in shoppers
        for i in shop.draw(rng, tastes[user], model.views)
    ]
    _post(client, headers, views)
    settle()
    report = SimulationReport(shoppers=len(shoppers))
    reactions: list[dict[str, Any]] = []
    for user in shoppers:
        response = client.get(f"/v1/recommendations/{user}", params={"n": model.n})
        response.raise_for_status()
        answer = response.json()
        report.recommendations += 1
        variant = str(answer.get("variant", ""))
        report.variants[variant] = report.variants.get(variant, 0) + 1
        reactions += list(_react(rng, shop, model, user, tastes[user], answer))
    _post(client, headers, reactions)
    _tally(report, reactions)
    return report


def _tally(report: SimulationReport, events: list[dict[str, Any]]) -> None:
    for event in events:
        kind = event["event_type"]
        report.clicks += kind == "click"
        report.carts += kind == "add_to_cart"
        if kind == "purchase":
            report.purchases += 1
            report.revenue += float(event["event_value"])
