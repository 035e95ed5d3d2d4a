"""Fixtures for the model registry, training and retraining tests: settings in a temp folder,
small fitted models, and a lake filled with seeded synthetic events through the lake writer."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pytest

from streamrec.config import Settings
from streamrec.events import Event
from streamrec.lake.writer import LakeWriter
from streamrec.models.registry import ModelRegistry
from streamrec.recommenders import Recommender, Vocabulary, create
from streamrec.stream.base import StreamRecord
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", campaign="default")


@pytest.fixture
def registry(settings: Settings) -> ModelRegistry:
    return ModelRegistry(settings, refresh_s=0.05)


@pytest.fixture
def events_table() -> pa.Table:
    return generate_interactions(n_users=60, n_items=40, n_events=1500, seed=3)


@pytest.fixture
def fitted(events_table: pa.Table) -> Callable[[str], Recommender]:
    """A fitted model of a recipe, with its item vocabulary, as training would produce."""

    def make(recipe: str = "item-knn") -> Recommender:
        encoded = encode_events(events_table)
        model = create(recipe)
        model.fit(encoded.interactions())
        model.item_vocab = Vocabulary(encoded.items.ids())
        return model

    return make


def fill_lake(settings: Settings, table: pa.Table) -> int:
    """Archive every row of ``table`` as stream records of shard 0; returns rows written."""
    writer = LakeWriter(settings.lake_location, settings.lake_flush_bytes, 3600.0)
    records = [
        StreamRecord(0, offset, _event(offset, row)) for offset, row in enumerate(table.to_pylist())
    ]
    writer.add(records)
    writer.flush()
    return len(records)


def _event(offset: int, row: dict[str, object]) -> Event:
    ts = float(row["timestamp"])  # type: ignore[arg-type]
    return Event(
        event_id=f"e{offset}", user_id=str(row["user_id"]), item_id=str(row["item_id"]),
        timestamp=ts, received_at=ts, event_type=str(row["event_type"]),
        session_id=str(row["session_id"]),
    )  # fmt: skip
