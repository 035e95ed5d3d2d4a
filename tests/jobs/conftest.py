"""A runtime serving a fitted item-kNN model, with users whose events the realtime consumer has
applied: what the batch jobs read."""

from __future__ import annotations

import random

import pytest

from streamrec.catalogue import Item
from streamrec.runtime import Runtime
from tests.conftest import RuntimeFactory
from tests.factories import make_event
from tests.serving.conftest import FakeActive, FakeRegistry, attach, fit_knn

N_USERS = 30


@pytest.fixture
def served(make_runtime: RuntimeFactory) -> Runtime:
    runtime = make_runtime()
    model = fit_knn()
    attach(runtime, FakeRegistry(FakeActive("v1", "item-knn", model)))
    assert model.item_vocab is not None
    items = model.item_vocab.ids()
    rng = random.Random(11)
    events = [
        make_event(
            f"u{rng.randrange(N_USERS)}", rng.choice(items), rng.choice(["view", "purchase"])
        )
        for _ in range(300)
    ]
    runtime.event_log.append(events)
    runtime.make_runner("realtime").drain()
    runtime.catalogue.upsert([Item(i, f"Title {i}", ("Toys",)) for i in items[::3]])
    runtime.recommendations.catalogue.invalidate()
    return runtime
