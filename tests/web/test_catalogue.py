"""The demo catalogue and its background traffic: seeded, valid, recent, idempotent to re-send."""

from __future__ import annotations

from streamrec.catalogue import validate_items
from streamrec.events import validate_batch
from streamrec.web.catalogue import (
    BACKGROUND_USER_PREFIX,
    CATEGORY_STYLE,
    demo_catalogue,
    demo_data,
    demo_interactions,
    seed_demo,
)
from tests.conftest import RuntimeFactory, drain

NOW = 1_800_000_000.0


def test_catalogue_is_reproducible_and_well_formed() -> None:
    items = demo_catalogue()
    assert items == demo_catalogue()
    assert len({it["item_id"] for it in items}) == len(items) == 120
    for it in items:
        (category,) = it["categories"]
        assert it["title"] and it["properties"]["price"] > 0
        assert it["properties"]["colour"] == CATEGORY_STYLE[category]
        assert all(not isinstance(v, dict | list) for v in it["properties"].values())  # flat
    assert demo_catalogue(seed=8) != items


def test_background_events_are_valid_recent_and_reference_the_catalogue() -> None:
    data = demo_data(now=NOW)
    accepted, rejected = validate_batch(data.events, now=NOW)
    assert rejected == [] and len(accepted) == len(data.events) == 4000
    ids = {it["item_id"] for it in data.items}
    assert {e.item_id for e in accepted} <= ids
    assert all(e.user_id.startswith(BACKGROUND_USER_PREFIX) for e in accepted)
    times = [e.timestamp for e in accepted]
    assert times == sorted(times)
    assert times[0] >= NOW - 86_400 - 61 and times[-1] == NOW - 60


def test_event_ids_are_stable_so_seeding_twice_duplicates_nothing() -> None:
    first = demo_interactions(now=NOW)
    again = demo_interactions(now=NOW + 3600)
    assert [e["event_id"] for e in first] == [e["event_id"] for e in again]
    assert len({e["event_id"] for e in first}) == len(first)


def test_popular_items_are_concentrated() -> None:
    """A first-time visitor sees a clear head of popular items, not a flat list."""
    counts: dict[str, int] = {}
    for event in demo_interactions(now=NOW):
        counts[event["item_id"]] = counts.get(event["item_id"], 0) + 1
    ranked = sorted(counts.values(), reverse=True)
    assert sum(ranked[:12]) > 0.2 * sum(ranked)  # top 10% of items get over a fifth of traffic


def test_seed_demo_fills_an_empty_shop_once(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    assert seed_demo(runtime) is True
    assert runtime.catalogue.count() == 120
    assert sum(s.head for s in runtime.event_log.status()) == 4000
    assert seed_demo(runtime) is False  # a restart does not seed twice
    assert sum(s.head for s in runtime.event_log.status()) == 4000
    drain(runtime, "realtime")
    popular = runtime.recommendations.popular_items(5)
    assert len(popular.items) == 5
    assert all(it.get("title") for it in runtime.recommendations.decorate(popular))


def test_seed_demo_leaves_an_operators_catalogue_alone(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    runtime.catalogue.upsert(validate_items([{"item_id": "mine", "title": "My own item"}]))
    assert seed_demo(runtime) is False
    assert runtime.catalogue.count() == 1
    assert sum(s.head for s in runtime.event_log.status()) == 0
