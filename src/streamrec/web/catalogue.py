"""The demo shop's catalogue and background traffic, generated (seeded) rather than downloaded.

The demo must work offline and without any licensed data set, yet a first-time visitor should see
sensible popular items and the recommenders need co-occurrence to learn from. So the catalogue and a
few thousand synthetic interactions come from :mod:`streamrec.synthetic` (the same planted structure
the tests and benchmarks use: categories, Zipf popularity, sequential sessions). Instead of images,
each item carries the colour of its category in ``properties``; the page draws an SVG picture.

Background events are squeezed into the day that ends a minute before "now" (order kept), so
time-decayed popularity and trending treat them as recent; their users are named
``demo-shopper-N`` so they never collide with the anonymous ids the tracker hands out.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from streamrec.catalogue import validate_items
from streamrec.events import MAX_EVENTS_PER_REQUEST, Event, validate_batch
from streamrec.synthetic import generate_catalogue, generate_interactions

if TYPE_CHECKING:
    from streamrec.runtime import Runtime

log = logging.getLogger(__name__)

__all__ = [
    "CATEGORY_STYLE",
    "DemoData",
    "demo_catalogue",
    "demo_data",
    "demo_interactions",
    "seed_demo",
]

DEMO_SEED = 7
DEMO_ITEMS = 120
DEMO_USERS = 80
DEMO_EVENTS = 4000
BACKGROUND_USER_PREFIX = "demo-shopper-"
BACKGROUND_SPAN_S = 86_400.0

# category -> swatch colour; the demo draws an inline SVG picture in it instead of a product photo
# (no emoji: a machine without an emoji font would show empty boxes).
CATEGORY_STYLE: Mapping[str, str] = {
    "Books": "#8d6e63",
    "Electronics": "#455a64",
    "Kitchen": "#ef6c00",
    "Garden": "#2e7d32",
    "Toys": "#f9a825",
    "Sports": "#1565c0",
    "Beauty": "#ad1457",
    "Music": "#6a1b9a",
    "Outdoor": "#558b2f",
    "Office": "#37474f",
    "Pets": "#795548",
    "Fashion": "#c62828",
    "Shoes": "#00838f",
    "Home": "#5d4037",
    "Tools": "#616161",
    "Games": "#283593",
    "Health": "#00897b",
    "Baby": "#f06292",
    "Automotive": "#424242",
    "Grocery": "#6d4c41",
}
_FALLBACK_COLOUR = "#607d8b"


@dataclass(frozen=True)
class DemoData:
    """Items (as the items API takes them) and background events (as POST /v1/events takes them)."""

    items: list[dict[str, Any]]
    events: list[dict[str, Any]]


def demo_catalogue(n_items: int = DEMO_ITEMS, seed: int = DEMO_SEED) -> list[dict[str, Any]]:
    """Catalogue rows in the items API's shape (item_id, title, categories, properties, ...)."""
    table = generate_catalogue(n_items, seed=seed).to_pylist()
    return [_item_record(row) for row in table]


def _item_record(row: Mapping[str, Any]) -> dict[str, Any]:
    category = str(row["category"])
    colour = CATEGORY_STYLE.get(category, _FALLBACK_COLOUR)
    return {
        "item_id": str(row["item_id"]),
        "title": str(row["title"]),
        "categories": [category],
        "properties": {
            "price": float(row["price"]),
            "category": category,
            "colour": colour,
        },
        "created_at": float(row["created_at"]),
    }


def demo_interactions(
    n_items: int = DEMO_ITEMS,
    n_users: int = DEMO_USERS,
    n_events: int = DEMO_EVENTS,
    seed: int = DEMO_SEED,
    now: float | None = None,
) -> list[dict[str, Any]]:
    """Background events in the events API's shape, over the day ending a minute before ``now``.

    Event ids are derived from the seed and position, so seeding twice stores nothing twice (the
    stream's consumers de-duplicate on event_id)."""
    table = generate_interactions(n_users, n_items, n_events, seed=seed)
    rows = table.to_pylist()
    end = (time.time() if now is None else now) - 60.0
    first, last = float(rows[0]["timestamp"]), float(rows[-1]["timestamp"])
    scale = min(1.0, BACKGROUND_SPAN_S / max(last - first, 1e-9))
    return [
        _event_record(i, row, end - (last - row["timestamp"]) * scale, seed)
        for i, row in enumerate(rows)
    ]


def _event_record(index: int, row: Mapping[str, Any], when: float, seed: int) -> dict[str, Any]:
    user = str(row["user_id"]).removeprefix("user-")
    return {
        "event_id": f"demo-{seed}-{index}",
        "user_id": f"{BACKGROUND_USER_PREFIX}{user}",
        "item_id": str(row["item_id"]),
        "event_type": str(row["event_type"]),
        "event_value": float(row["event_value"]),
        "session_id": f"demo-{row['session_id']}",
        "timestamp": round(when, 3),
    }


def demo_data(seed: int = DEMO_SEED, now: float | None = None) -> DemoData:
    """The whole demo data set: the catalogue and its background traffic, from one seed."""
    return DemoData(demo_catalogue(seed=seed), demo_interactions(seed=seed, now=now))


def seed_demo(runtime: Runtime, seed: int = DEMO_SEED) -> bool:
    """Fill an empty shop: the demo catalogue, and background events when the stream is empty.

    Meant as a start hook (``runtime.start_hooks.append(seed_demo)``): it does nothing when the
    catalogue already holds items, so an operator's own catalogue is never mixed with the demo's,
    and a restart does not seed twice. Events go straight to the stream (durably, like a 202), so
    the consumers treat them as any other traffic. Returns whether it seeded."""
    if runtime.catalogue.count() > 0:
        return False
    data = demo_data(seed)
    for start in range(0, len(data.items), 500):
        runtime.catalogue.upsert(validate_items(data.items[start : start + 500]))
    runtime.recommendations.catalogue.invalidate()
    events: list[Event] = []
    if sum(shard.head for shard in runtime.event_log.status()) == 0:
        events, _ = validate_batch(data.events)
        for start in range(0, len(events), MAX_EVENTS_PER_REQUEST):
            runtime.event_log.append(events[start : start + MAX_EVENTS_PER_REQUEST])
    log.info("seeded the demo shop: %d items, %d events", len(data.items), len(events))
    return True
