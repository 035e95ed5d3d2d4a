"""Batch inference answers what a request answers: user by user, the batch's items and scores are
those of RecommendationService.recommend (the call GET /v1/recommendations makes)."""

from __future__ import annotations

import random

import msgspec
import numpy as np
import pytest

from streamrec.catalogue import Item
from streamrec.recommenders.hybrid import Hybrid
from streamrec.runtime import Runtime
from streamrec.serving.batch import BatchScorer
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events
from tests.conftest import RuntimeFactory
from tests.factories import make_event
from tests.serving.conftest import FakeActive, FakeRegistry, attach

USERS = [f"u{k}" for k in range(40)] + ["nobody", "only-new"]


@pytest.fixture(scope="module")
def hybrid() -> Hybrid:
    encoded = encode_events(generate_interactions(80, 60, 4000, seed=3))
    model = Hybrid(tune=False, stream_weight=0.5)
    model.fit(encoded.interactions())
    model.item_vocab = encoded.items
    return model


def serve(runtime: Runtime, hybrid: Hybrid) -> list[str]:
    attach(runtime, FakeRegistry(FakeActive("v1", "hybrid", hybrid)))
    assert hybrid.item_vocab is not None
    items = [*hybrid.item_vocab.ids(), "new-a", "new-b"]
    rng = random.Random(5)
    kinds = ["view", "view", "click", "purchase", "rating"]
    events = [
        msgspec.structs.replace(
            make_event(f"u{rng.randrange(40)}", rng.choice(items), rng.choice(kinds)),
            event_value=float(rng.randrange(1, 6)),
        )
        for _ in range(600)
    ]
    events += [make_event(f"o{k}", "new-a") for k in range(3)]
    events += [make_event("only-new", "new-b"), make_event("only-new", "new-a")]
    runtime.event_log.append(events)
    runtime.make_runner("realtime").drain()
    runtime.catalogue.upsert([Item(i, categories=("Even",)) for i in items[::2]])
    runtime.catalogue.upsert([Item(items[3], hidden=True)])
    runtime.recommendations.catalogue.invalidate()
    return items


def assert_same(runtime: Runtime, n: int, filter_text: str | None = None) -> None:
    service = runtime.recommendations
    batch = BatchScorer(service).recommend(USERS, n, filter_text)
    for user, got in zip(USERS, batch, strict=True):
        want = service.recommend(user, n, filter_text=filter_text)
        assert (got.recipe, got.version) == (want.recipe, want.version), user
        assert [i for i, _ in got.items] == [i for i, _ in want.items], user
        got_scores = np.array([s for _, s in got.items], np.float64)
        want_scores = np.array([s for _, s in want.items], np.float64)
        np.testing.assert_allclose(got_scores, want_scores, rtol=1e-6)


def test_the_batch_equals_the_served_recommendations(
    make_runtime: RuntimeFactory, hybrid: Hybrid
) -> None:
    runtime = make_runtime(stream_item_min_users=1)
    serve(runtime, hybrid)
    assert_same(runtime, 25)
    assert_same(runtime, 7, 'INCLUDE ItemID WHERE Items.categories IN ("Even")')
    assert_same(runtime, 10, 'EXCLUDE ItemID WHERE Interactions.event_type IN ("view")')


def test_with_thresholds_exploration_and_small_chunks(
    make_runtime: RuntimeFactory, hybrid: Hybrid, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(
        stream_item_min_users=1,
        exploration_weight=0.2,
        event_value_thresholds={"rating": 3.0, "view": 2.0},
    )
    serve(runtime, hybrid)
    monkeypatch.setattr("streamrec.serving.batch.MAX_CHUNK", 7)
    assert BatchScorer(runtime.recommendations).chunk_size() == 7
    assert_same(runtime, 25)
