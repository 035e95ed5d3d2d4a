from __future__ import annotations

import pytest

from streamrec.recommenders.data import Interactions
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import EncodedEvents, encode_events


@pytest.fixture(scope="session")
def events() -> EncodedEvents:
    return encode_events(generate_interactions(n_users=300, n_items=200, n_events=6_000, seed=7))


@pytest.fixture(scope="session")
def interactions(events: EncodedEvents) -> Interactions:
    return events.interactions()
