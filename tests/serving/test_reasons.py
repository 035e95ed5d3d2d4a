"""Each recommended item's reason (serving/reasons.py) names a real event of the user; both
paths of the service give the same reasons; priors, exploration and similar items say so."""

from __future__ import annotations

from typing import Any

import pytest

from streamrec.runtime import Runtime
from streamrec.serving.reasons import own_events
from streamrec.stores.base import UserEvent
from tests.conftest import RuntimeFactory
from tests.factories import make_event
from tests.serving.conftest import FakeActive, FakeRegistry, attach
from tests.serving.test_one_user import USERS, feed, hybrid, user_events

PERSONAL = {"because_you", "repeat"}


def served(runtime: Runtime, params: dict[str, Any]) -> list[str]:
    model = hybrid(**params)
    assert model.item_vocab is not None
    attach(runtime, FakeRegistry(FakeActive("v1", model.recipe, model)))
    feed(runtime, user_events(model.item_vocab.ids(), seed=1))
    return model.item_vocab.ids()


@pytest.mark.parametrize(
    "params",
    [
        {"stream_weight": 0.5, "repeat_weight": 1.0, "base": "knn"},
        {"stream_weight": 3.0, "repeat_weight": 8.0, "base": "ease"},
        {"recipe": "item-knn", "stream_weight": 0.0},
    ],
)
def test_reasons_name_real_events_of_the_user_on_both_paths(
    make_runtime: RuntimeFactory, params: dict[str, Any]
) -> None:
    runtime = make_runtime(stream_item_min_users=1)
    served(runtime, params)
    service = runtime.recommendations
    kinds: set[str] = set()
    for user in USERS:
        own = {(e.item_id, e.event_type) for e in service.events(user, None)}
        service.one_user_path = True
        fast = service.recommend(user, 20)
        service.one_user_path = False
        dense = service.recommend(user, 20)
        assert fast.items == dense.items and fast.reasons == dense.reasons, user
        assert fast.reasons is not None and len(fast.reasons) == len(fast.items)
        for (item_id, _), reason in zip(fast.items, fast.reasons, strict=True):
            kinds.add(reason.type)
            if reason.type in PERSONAL:
                assert (reason.item_id, reason.event_type) in own, (user, reason)
            if reason.type == "repeat":
                assert reason.item_id == item_id
    assert "because_you" in kinds


def test_ranked_items_have_the_reasons_of_the_served_answer(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(stream_item_min_users=1)
    served(runtime, {"stream_weight": 0.5, "repeat_weight": 1.0, "base": "knn"})
    service = runtime.recommendations
    for user in USERS:
        top = service.recommend(user, 10)
        assert top.reasons is not None
        ranked = service.rank(user, ["never-seen", *reversed([i for i, _ in top.items])])
        assert [i for i, _ in ranked.items] == [*(i for i, _ in top.items), "never-seen"]
        assert ranked.reasons == top.reasons  # one per scored item: none for never-seen


def test_a_new_item_reached_by_the_stream_is_because_of_a_recent_event(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(stream_item_min_users=1)
    served(runtime, {"stream_weight": 3.0, "base": "knn"})
    service = runtime.recommendations
    found = 0
    for user in USERS:
        result = service.recommend(user, 40)
        assert result.reasons is not None
        recent = {e.item_id for e in service.events(user, None)[-3:]}
        for (item_id, _), reason in zip(result.items, result.reasons, strict=True):
            if item_id.startswith("new-"):  # the model never saw it: only the stream reaches it
                assert reason.type == "because_you" and reason.item_id in recent
                found += 1
    assert found


def test_priors_exploration_and_similar_items(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(stream_item_min_users=1, exploration_weight=0.3)
    items = served(runtime, {"stream_weight": 0.5})
    service = runtime.recommendations
    cold = service.recommend("nobody", 5)
    assert cold.reasons and {r.type for r in cold.reasons} == {"popular"}
    explored = service.recommend(USERS[0], 10)
    assert explored.reasons is not None
    tail = [r.type for r in explored.reasons[-3:]]
    assert tail == ["exploration"] * 3, explored.reasons
    similar = service.similar(items[3], 4)
    assert similar.reasons and {(r.type, r.item_id) for r in similar.reasons} == {
        ("similar_to", items[3])
    }
    assert {r.type for r in service.trending_items(3).reasons or []} <= {"trending"}
    decorated = service.decorate(explored)
    assert decorated[-1]["reason"] == {"type": "exploration"}


def test_the_heaviest_newest_event_on_an_item_explains() -> None:
    events = [
        UserEvent("a", "view", 1.0),
        UserEvent("a", "purchase", 2.0),
        UserEvent("a", "view", 3.0),
        UserEvent("b", "view", 4.0),
        UserEvent("b", "view", 5.0),
    ]
    best = own_events(events, {"a", "b"}, {"view": 1.0, "purchase": 4.0})
    assert best["a"].timestamp == 2.0 and best["b"].timestamp == 5.0


def test_a_feed_of_one_view_explains_by_that_view(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    items = served(runtime, {"base": "knn", "popularity_weight": 0.0})
    feed(runtime, [make_event("solo", items[11], "view")])
    result = runtime.recommendations.recommend("solo", 5)
    assert result.reasons is not None
    assert {(r.type, r.item_id, r.event_type) for r in result.reasons} == {
        ("because_you", items[11], "view")
    }
