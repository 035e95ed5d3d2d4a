"""A fitted model on synthetic data, served through a stand-in for the model registry."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events


@dataclasses.dataclass
class FakeActive:
    version: str
    recipe: str
    model: Recommender


class FakeRegistry:
    """The registry's serving interface: ``active(campaign)``; switch with ``.current``."""

    def __init__(self, active: FakeActive | None) -> None:
        self.current = active
        self.asked: list[str] = []

    def active(self, campaign: str) -> FakeActive | None:
        self.asked.append(campaign)
        return self.current

    def loads_on_next_read(self, campaign: str) -> bool:
        return False  # nothing to load: the model is in memory


def fit_knn(n_items: int = 60, n_users: int = 80, n_events: int = 4000, seed: int = 3) -> ItemKNN:
    table = generate_interactions(n_users, n_items, n_events, seed=seed)
    encoded = encode_events(table)
    model = ItemKNN(k=30)
    model.fit(encoded.interactions())
    model.item_vocab = encoded.items
    return model


@pytest.fixture(scope="session")
def knn_model() -> ItemKNN:
    return fit_knn()


@pytest.fixture
def registry(knn_model: ItemKNN) -> FakeRegistry:
    return FakeRegistry(FakeActive("v1", "item-knn", knn_model))


def attach(runtime: Any, registry: FakeRegistry) -> None:
    runtime.models = registry
