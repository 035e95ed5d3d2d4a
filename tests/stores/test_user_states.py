"""UserStateStore.states_of on every backend: key by key, what recent_events and excluded_items
return, in one read."""

from __future__ import annotations

import random

import msgspec
import numpy as np
import pytest

from streamrec.stores.user_states import UserStates
from streamrec.stream.base import StreamRecord
from tests.factories import make_event
from tests.stores.conftest import UserStateFactory

ODD = 'ü "5\\'  # quotes, a backslash and non-ASCII go through the SQL backends' key lists
KEYS = ["u0", "u1", "u2", "u3", "nobody", "session:s1", "u1", ODD]  # an unknown key, a repeat


def _records() -> list[StreamRecord]:
    """Four users' events out of time order, with ties, values (some none), two shards, a
    session, purchases and ratings (excluded) and views."""
    rng = random.Random(7)
    records = []
    for offset in range(120):
        user = f"u{rng.randrange(4)}"
        event = make_event(
            user,
            f"i{rng.randrange(15)}",
            rng.choice(["view", "view", "purchase", "rating"]),
            timestamp=float(rng.randrange(30)),  # many equal times
            session_id="s1" if offset % 5 == 0 else None,
        )
        value = None if offset % 3 == 0 else float(rng.randrange(1, 6))
        event = msgspec.structs.replace(event, event_value=value)
        records.append(StreamRecord(int(user[1:]) % 2, offset, event))
    odd = [make_event(ODD, f"i{k}", "purchase", timestamp=float(k)) for k in range(3)]
    return records + [StreamRecord(0, 120 + k, e) for k, e in enumerate(odd)]


@pytest.mark.parametrize("limit", [100, 7, 1, 0])
def test_states_of_is_each_keys_recent_events_and_excluded_items(
    make_user_state: UserStateFactory, limit: int
) -> None:
    store = make_user_state(user_state_max_events=20)
    records = _records()
    for start in range(0, len(records), 40):  # several batches: a store may trim between them
        batch = records[start : start + 40]
        store.apply(batch, {0: start + 40, 1: start + 40})
    assert store.excluded_items(ODD) == {"i0", "i1", "i2"}
    states = store.states_of(KEYS, limit)
    assert list(states.keys) == KEYS
    for k, key in enumerate(KEYS):
        assert states.events(k) == store.recent_events(key, limit), key
        assert states.excluded(k) == store.excluded_items(key), key
    assert len(states.events(0)) == min(limit, 20), "u0 has enough events"
    rows = states.rows()
    assert rows.tolist() == sorted(rows.tolist()) and rows.size == len(states.item_ids)
    assert store.states_of([], limit).keys == []


def test_rows_in_any_order_are_laid_out_by_key_then_time_then_seq() -> None:
    events = [
        (1, "c", "view", 5.0, None, 9),
        (0, "b", "rating", 2.0, 4.0, 3),
        (1, "d", "view", 5.0, 1.0, 4),  # the same time as "c": seq 4 before 9
        (0, "a", "view", 1.0, None, 8),
        (0, "z", "view", 0.5, None, 1),  # u0's oldest: left out by limit 2
    ]
    states = UserStates.of_rows(["u0", "u1", "u2"], events, [(1, "x"), (0, "y"), (1, "w")], 2)
    assert states.item_ids == ["a", "b", "d", "c"]
    assert states.starts.tolist() == [0, 2, 4, 4]
    np.testing.assert_array_equal(states.values, [np.nan, 4.0, 1.0, np.nan])
    assert [e.event_value for e in states.events(0)] == [None, 4.0]
    assert [states.excluded(k) for k in range(3)] == [{"y"}, {"x", "w"}, set()]
