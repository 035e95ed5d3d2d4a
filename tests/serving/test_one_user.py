"""The service's one-user path serves exactly what its dense path serves (serving/one_user.py)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

import msgspec
import pytest

from streamrec.catalogue import Item
from streamrec.events import Event
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from streamrec.serving.service import RecommendationService
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events
from tests.conftest import RuntimeFactory
from tests.factories import make_event
from tests.serving.conftest import FakeActive, FakeRegistry, attach

USERS = [f"w{k}" for k in range(40)]


def feed(runtime: Runtime, events: Sequence[Event]) -> None:
    runtime.event_log.append(list(events))
    runtime.make_runner("realtime").drain()


def hybrid(**params: Any) -> Recommender:
    encoded = encode_events(generate_interactions(80, 60, 4000, seed=3))
    model = (
        ItemKNN(k=20) if params.pop("recipe", None) == "item-knn" else Hybrid(tune=False, **params)
    )
    model.fit(encoded.interactions())
    model.item_vocab = encoded.items
    return model


def rated(user: str, item: str, value: float) -> Event:
    return msgspec.structs.replace(make_event(user, item, "rating"), event_value=value)


def user_events(items: list[str], seed: int) -> list[Event]:
    """Each user's views, carts and purchases on model items and a few stream-only items; some
    pairs repeat across users so the stream learns co-occurrence, new items included."""
    rng = random.Random(seed)
    pool = items + [f"new-{k}" for k in range(5)]
    events = []
    for user in USERS:
        for _ in range(rng.randint(1, 25)):
            kind = rng.choice(["view", "view", "view", "add_to_cart", "purchase"])
            events.append(make_event(user, rng.choice(pool), kind))
    return events


def served_items(service: RecommendationService, user: str, n: int, **kw: Any) -> list[Any]:
    return service.recommend(user, n, **kw).items


def assert_paths_agree(runtime: Runtime, items: list[str]) -> set[str]:
    """Every user's top n from both paths, equal; returns the items served."""
    service = runtime.recommendations
    served: set[str] = set()
    taken = []
    one_user = service._one_user

    def spy(*args: Any) -> Any:
        result = one_user(*args)
        taken.append(result is not None)
        return result

    service._one_user = spy  # type: ignore[method-assign]
    rng = random.Random(5)
    for user in USERS:
        exclude = rng.sample(items, rng.randint(0, 4))
        for n in (1, 5, 20, 80):
            service.one_user_path = True
            fast = served_items(service, user, n, exclude=exclude)
            service.one_user_path = False
            dense = served_items(service, user, n, exclude=exclude)
            assert fast == dense, (user, n)
            served.update(i for i, _ in fast)
    assert taken and all(taken)
    return served


@pytest.mark.parametrize(
    "params",
    [
        {"stream_weight": 0.5, "repeat_weight": 1.0, "base": "knn"},
        {"stream_weight": 0.5, "repeat_weight": 1.0, "base": "ease"},
        {"stream_weight": 0.0, "popularity_weight": 0.0, "base": "knn"},
        {"recipe": "item-knn", "stream_weight": 0.0},  # its stream blend weight is 0
    ],
)
def test_one_user_path_serves_what_the_dense_path_serves(
    make_runtime: RuntimeFactory, params: dict[str, Any]
) -> None:
    model = hybrid(**params)
    assert model.item_vocab is not None
    items = model.item_vocab.ids()
    runtime = make_runtime(stream_item_min_users=1)
    attach(runtime, FakeRegistry(FakeActive("v1", model.recipe, model)))
    feed(runtime, user_events(items, seed=1))
    runtime.catalogue.upsert([Item(items[k], hidden=True) for k in (0, 7, 9)])
    runtime.recommendations.catalogue.invalidate()
    served = assert_paths_agree(runtime, items)
    assert {items[0], items[7], items[9]}.isdisjoint(served)
    # the stream's candidates enter: items the model never saw, only with a stream weight
    assert any(i.startswith("new-") for i in served) == (params["stream_weight"] > 0)


def test_event_value_thresholds_leave_the_same_events_out_on_both_paths(
    make_runtime: RuntimeFactory,
) -> None:
    """A rating below its threshold is stored (and excludes its item) but says nothing: the
    one-user path leaves it out of the scored history, the stream term and the reasons, as
    the dense path does; a user whose every event is below gets the dense path's answer."""
    model = hybrid(stream_weight=0.5, repeat_weight=1.0, base="knn")
    assert model.item_vocab is not None
    items = model.item_vocab.ids()
    runtime = make_runtime(
        stream_item_min_users=1,
        exclude_seen_event_types=(),
        event_value_thresholds={"rating": 3.0},
    )
    attach(runtime, FakeRegistry(FakeActive("v1", model.recipe, model)))
    rng = random.Random(4)
    events = user_events(items, seed=3)
    for user in USERS:
        for _ in range(rng.randint(1, 6)):
            value = float(rng.choice([1, 2, 4, 5]))
            events.insert(rng.randrange(len(events) + 1), rated(user, rng.choice(items), value))
    events.append(rated("low-only", items[3], 1.0))
    feed(runtime, events)
    assert_paths_agree(runtime, items)
    service = runtime.recommendations
    for path in (True, False):
        service.one_user_path = path
        assert service.recommend("low-only", 5).recipe == "popularity"


def test_model_loaded_after_stream_items_maps_into_the_space(
    make_runtime: RuntimeFactory,
) -> None:
    """Items the stream saw first take the low space indices: model index != space index."""
    model = hybrid(stream_weight=0.3, repeat_weight=1.0, base="knn")
    assert model.item_vocab is not None
    items = model.item_vocab.ids()
    runtime = make_runtime(stream_item_min_users=1)
    registry = FakeRegistry(None)
    attach(runtime, registry)
    feed(runtime, [make_event("early", item) for item in ["new-0", items[30], items[3]]])
    registry.current = FakeActive("v1", "hybrid", model)
    feed(runtime, user_events(items, seed=2))
    view = runtime.recommendations.models.current()
    assert view is not None and not view.contiguous
    assert_paths_agree(runtime, items)


def test_filters_and_exploration_keep_the_dense_path(make_runtime: RuntimeFactory) -> None:
    model = hybrid(stream_weight=0.5)
    assert model.item_vocab is not None
    runtime = make_runtime(exploration_weight=0.3)
    attach(runtime, FakeRegistry(FakeActive("v1", "hybrid", model)))
    feed(runtime, [make_event("u1", model.item_vocab.ids()[4])])
    service = runtime.recommendations
    calls: list[object] = []
    service._one_user = lambda *args: calls.append(args)  # type: ignore[method-assign, assignment, return-value]
    assert service.recommend("u1", 5).items
    assert not calls
