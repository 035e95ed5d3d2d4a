"""Stream records made up by the tests (seeded), and a lake directory per test."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path

import pytest

from streamrec.events import Event
from streamrec.stream.base import StreamRecord
from streamrec.stream.partition import shard_for

DAY0 = 1_704_067_200.0  # 2024-01-01T00:00:00Z

RecordFactory = Callable[..., list[StreamRecord]]


def make_records(
    n: int,
    shard_count: int = 2,
    start: float = DAY0 + 3600.0,
    step_s: float = 1.0,
    seed: int = 0,
    users: int = 20,
    first_offsets: dict[int, int] | None = None,
) -> list[StreamRecord]:
    """n events from `users` users, received `step_s` apart, placed on shards as the stream does."""
    rng = random.Random(seed)
    heads = dict(first_offsets or {})
    out: list[StreamRecord] = []
    for i in range(n):
        user = f"user-{rng.randrange(users)}"
        received = start + i * step_s
        event = Event(
            event_id=f"ev-{seed}-{i}",
            user_id=user,
            item_id=f"item-{rng.randrange(50)}",
            timestamp=received - rng.random() * 60,
            received_at=received,
            event_type=rng.choice(["view", "click", "purchase"]),
            event_value=rng.choice([None, 1.0, 9.99]),
            session_id=rng.choice([None, f"s-{user}"]),
            properties=rng.choice([None, {"page": "home", "n": 3}]),
            impression=rng.choice([None, ["item-1", "item-2"]]),
        )
        shard = shard_for(user, shard_count)
        offset = heads.get(shard, 0)
        heads[shard] = offset + 1
        out.append(StreamRecord(shard, offset, event))
    return out


@pytest.fixture
def lake_dir(tmp_path: Path) -> str:
    return str(tmp_path / "lake")


@pytest.fixture
def records() -> RecordFactory:
    return make_records
