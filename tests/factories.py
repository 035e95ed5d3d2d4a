"""Seeded test data shared by the suites."""

from __future__ import annotations

import random
import time

from streamrec.events import Event, new_event_id


def make_event(
    user_id: str = "u1",
    item_id: str = "i1",
    event_type: str = "view",
    received_at: float | None = None,
    timestamp: float | None = None,
    event_id: str | None = None,
    session_id: str | None = None,
) -> Event:
    now = time.time() if received_at is None else received_at
    return Event(
        event_id=event_id or new_event_id(now),
        user_id=user_id,
        item_id=item_id,
        timestamp=now if timestamp is None else timestamp,
        received_at=now,
        event_type=event_type,
        session_id=session_id,
    )


def random_events(n: int, seed: int = 7, users: int = 50, items: int = 200) -> list[Event]:
    rng = random.Random(seed)
    base = time.time() - 3600
    return [
        make_event(
            f"u{rng.randrange(users)}",
            f"i{rng.randrange(items)}",
            rng.choice(["view", "click", "purchase"]),
            received_at=base + i * 0.01,
        )
        for i in range(n)
    ]
