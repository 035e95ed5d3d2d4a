"""The recommendation service against a real Runtime: model fold-in, the stream's real-time
signals, exclusions, filters, and the popularity fallback."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest

from streamrec.catalogue import Item
from streamrec.errors import NotFoundError, ValidationError
from streamrec.events import Event
from streamrec.recommenders.data import UserHistory
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events
from tests.conftest import RuntimeFactory
from tests.factories import make_event
from tests.serving.conftest import FakeActive, FakeRegistry, attach


def feed(runtime: Runtime, events: Sequence[Event]) -> None:
    runtime.event_log.append(list(events))
    runtime.make_runner("realtime").drain()


@pytest.fixture
def served(make_runtime: RuntimeFactory, registry: FakeRegistry) -> Runtime:
    runtime = make_runtime()
    attach(runtime, registry)
    return runtime


def ids_of(model: ItemKNN) -> list[str]:
    assert model.item_vocab is not None
    return model.item_vocab.ids()


def test_unknown_user_gets_popularity_plainly(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("a", items[0]), make_event("b", items[0]), make_event("b", items[1])])
    result = served.recommendations.recommend("nobody", 5)
    assert result.recipe == "popularity" and result.version is None
    assert [i for i, _ in result.items] == [items[0], items[1]]


def test_event_is_reflected_after_the_realtime_consumer(
    served: Runtime, knn_model: ItemKNN
) -> None:
    items = ids_of(knn_model)
    service = served.recommendations
    assert service.recommend("u1", 10).recipe == "popularity"
    feed(served, [make_event("u1", items[3], "view")])
    after = service.recommend("u1", 10)
    assert (after.recipe, after.version) == ("item-knn", "v1")
    expected = service.similar(items[3], 10).items  # one-event history == the item's neighbours
    assert [i for i, _ in after.items][:3] == [i for i, _ in expected if i != items[3]][:3]


def test_purchased_items_are_excluded_viewed_ones_may_return(
    served: Runtime, knn_model: ItemKNN
) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("u1", items[0], "view"), make_event("u1", items[1], "purchase")])
    got = [i for i, _ in served.recommendations.recommend("u1", len(items)).items]
    assert items[1] not in got
    assert items[0] in got


def test_exclude_hidden_and_n(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("u1", items[0])])
    first = [i for i, _ in served.recommendations.recommend("u1", 3).items]
    served.catalogue.upsert([Item(first[1], hidden=True)])
    served.recommendations.catalogue.invalidate()
    got = [i for i, _ in served.recommendations.recommend("u1", 3, exclude=[first[0]]).items]
    assert len(got) == 3
    assert first[0] not in got and first[1] not in got


def test_filter_include_categories_and_params(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    comedy = set(items[10:20])
    served.catalogue.upsert(
        [Item(i, categories=("Comedy",) if i in comedy else ("Drama",)) for i in items]
    )
    feed(served, [make_event("u1", items[0])])
    service = served.recommendations
    text = "INCLUDE ItemID WHERE Items.categories IN ($G)"
    got = [
        i
        for i, _ in service.recommend(
            "u1", 50, filter_text=text, filter_params={"G": "Comedy"}
        ).items
    ]
    assert got and set(got) <= comedy
    with pytest.raises(ValidationError) as err:
        service.recommend("u1", 5, filter_text=text)
    assert err.value.field == "filter_params"


def test_filter_on_interactions(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("u1", items[0], "view"), make_event("u1", items[1], "view")])
    text = 'EXCLUDE ItemID WHERE Interactions.event_type IN ("view")'
    got = [i for i, _ in served.recommendations.recommend("u1", 60, filter_text=text).items]
    assert items[0] not in got and items[1] not in got and got


def _hybrid_with_stream_weight(knn_model: ItemKNN, weight: float) -> Hybrid:
    """A hybrid whose (normally learned) stream weight is set, on the knn model's data."""
    table = generate_interactions(80, 60, 4000, seed=3)
    encoded = encode_events(table)
    model = Hybrid(tune=False, stream_weight=weight)
    model.fit(encoded.interactions())
    model.item_vocab = encoded.items
    assert model.item_vocab.ids() == ids_of(knn_model)
    return model


def _new_item_pairs(served: Runtime, items: list[str]) -> None:
    # Several users go from a known item to a brand-new one: the stream learns the pair.
    feed(
        served,
        [
            e
            for u in range(5)
            for e in (make_event(f"o{u}", items[2]), make_event(f"o{u}", "new-item"))
        ],
    )
    feed(served, [make_event("u1", items[2])])


def test_new_item_recommendable_through_the_models_stream_weight(
    served: Runtime, registry: FakeRegistry, knn_model: ItemKNN
) -> None:
    registry.current = FakeActive("v2", "hybrid", _hybrid_with_stream_weight(knn_model, 0.5))
    items = ids_of(knn_model)
    _new_item_pairs(served, items)
    result = served.recommendations.recommend("u1", 60)
    assert "new-item" in [i for i, _ in result.items]
    similar = served.recommendations.similar("new-item", 5)
    assert items[2] in [i for i, _ in similar.items]


def test_no_stream_term_without_a_learned_weight(
    served: Runtime, registry: FakeRegistry, knn_model: ItemKNN
) -> None:
    """A model whose stream weight is 0 (validation found no gain) is served as it scores:
    nothing is mixed in at a hand-set weight, so the new item waits for exploration."""
    registry.current = FakeActive("v2", "hybrid", _hybrid_with_stream_weight(knn_model, 0.0))
    _new_item_pairs(served, ids_of(knn_model))
    result = served.recommendations.recommend("u1", 60)
    assert "new-item" not in [i for i, _ in result.items]
    history = UserHistory.of([ids_of(knn_model).index(ids_of(knn_model)[2])])
    scores = registry.current.model.score([history])[0]
    expected = [ids_of(knn_model)[i] for i in np.argsort(-scores, kind="stable")]
    assert [i for i, _ in result.items][:5] == expected[:5]


def test_exploration_weight_gives_its_share_of_slots_to_trending_new_items(
    make_runtime: RuntimeFactory, registry: FakeRegistry, knn_model: ItemKNN
) -> None:
    runtime = make_runtime(exploration_weight=0.3)  # 3 slots x 0.3, rounded up: 1 slot
    attach(runtime, registry)
    items = ids_of(knn_model)
    feed(runtime, [make_event(f"x{u}", "fresh-item") for u in range(4)])
    feed(runtime, [make_event("u1", items[0])])
    got = [i for i, _ in runtime.recommendations.recommend("u1", 3).items]
    assert got[-1] == "fresh-item" and len(got) == 3
    plain = make_runtime()
    attach(plain, registry)
    feed(plain, [make_event(f"x{u}", "fresh-item") for u in range(4)])
    feed(plain, [make_event("u1", items[0])])
    unexplored = [i for i, _ in plain.recommendations.recommend("u1", 3).items]
    assert "fresh-item" not in unexplored and unexplored[:2] == got[:2]


def test_session_events_count_for_an_anonymous_visitor(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("anon-1", items[4], session_id="s-9")])
    result = served.recommendations.recommend("someone-else", 5, session_id="s-9")
    assert result.recipe == "item-knn"


def test_similar_unknown_item_is_not_found(served: Runtime) -> None:
    with pytest.raises(NotFoundError):
        served.recommendations.similar("no-such-item", 5)


def test_similar_to_an_item_waiting_for_admission_is_empty_not_unknown(
    served: Runtime,
) -> None:
    feed(served, [make_event("importer", "uncatalogued-7")])  # one user: not admitted yet
    assert served.recommendations.space.index("uncatalogued-7") < 0
    assert served.recommendations.similar("uncatalogued-7", 5).items == []
    with pytest.raises(NotFoundError):
        served.recommendations.similar("no-such-item", 5)


def test_rank_orders_known_items_and_puts_unknown_last(served: Runtime, knn_model: ItemKNN) -> None:
    items = ids_of(knn_model)
    feed(served, [make_event("u1", items[0])])
    best = served.recommendations.recommend("u1", 1).items[0][0]
    worst = items[-1]
    result = served.recommendations.rank("u1", ["unknown-x", worst, best])
    order = [i for i, _ in result.items]
    assert order[0] == best and order[-1] == "unknown-x"
    assert result.items[-1][1] is None


def test_no_model_serves_cooccurrence_then_popularity(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(stream_item_min_users=1)  # q is seen from one user only
    attach(runtime, FakeRegistry(None))
    feed(runtime, [make_event("a", "p"), make_event("a", "q"), make_event("b", "p")])
    result = runtime.recommendations.recommend("b", 5)
    assert result.recipe == "cooccurrence" and result.items[0][0] == "q"
    assert runtime.recommendations.recommend("c", 5).recipe == "popularity"


def test_model_switch_is_picked_up(served: Runtime, registry: FakeRegistry) -> None:
    feed(served, [make_event("u1", ids_of(registry.current.model)[0])])  # type: ignore[union-attr, arg-type]
    assert served.recommendations.recommend("u1", 3).version == "v1"
    assert registry.current is not None
    registry.current = FakeActive("v2", "item-knn", registry.current.model)
    assert served.recommendations.recommend("u1", 3).version == "v2"


def test_aws_sample_item_id_gives_similar_for_that_user(
    served: Runtime, knn_model: ItemKNN
) -> None:
    items = ids_of(knn_model)
    got = [i for i, _ in served.recommendations.for_aws_sample("u1", 5, items[7]).items]
    assert items[7] not in got and len(got) == 5
    similar = [i for i, _ in served.recommendations.similar(items[7], 5).items]
    assert got == similar


def test_trending_and_popular(served: Runtime) -> None:
    feed(served, [make_event(f"u{k}", "hot") for k in range(5)] + [make_event("z", "cold")])
    assert served.recommendations.trending_items(1).items[0][0] == "hot"
    assert served.recommendations.popular_items(2).items[0][0] == "hot"
    assert served.recommendations.popular.top(1) == [("hot", pytest.approx(5.0, rel=0.01))]
