"""The named recommenders' counts ride along with the stream state: fed by the same events,
kept across a restart by its snapshot, rebuilt with co-occurrence when there is none."""

from __future__ import annotations

import io
import time

import numpy as np

from streamrec.serving.space import ItemSpace
from streamrec.serving.stream_state import StreamState
from streamrec.stream.base import StreamRecord
from tests.factories import make_event

WEIGHTS = {"view": 1.0, "purchase": 8.0}


def basket(now: float) -> list[StreamRecord]:
    events = [
        make_event("u", "a", "purchase", received_at=now, session_id="s"),
        make_event("u", "b", "purchase", received_at=now + 1, session_id="s"),
        make_event("v", "a", "view", received_at=now + 2),
        make_event("v", "c", "view", received_at=now + 3),
    ]
    return [StreamRecord(0, k, e) for k, e in enumerate(events)]


def names(state: StreamState, row: dict[int, float]) -> dict[str, float]:
    return {state.space.id(k): v for k, v in row.items()}


def test_the_stream_state_feeds_and_restores_the_counts() -> None:
    now = time.time()
    state = StreamState(ItemSpace(), WEIGHTS)
    state.update(basket(now))
    again = StreamState(ItemSpace(), WEIGHTS)
    again.space.add(["z"])  # another process's space: indices differ
    again.restore(state.snapshot({0: 4}))
    merch = again.merchandising
    a = again.space.index("a")
    assert names(again, merch.bought_together.partners(a)) == {"b": 1.0}
    assert names(again, merch.also_viewed.partners(a)) == {"c": 1.0}
    sold = merch.windowed.scores("purchase", 3_600.0, len(again.space), now=now + 5)
    assert {again.space.id(k) for k in np.flatnonzero(sold)} == {"a", "b"}


def test_a_snapshot_written_before_them_restores_them_empty() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    state.update(basket(time.time()))
    with np.load(io.BytesIO(state.snapshot({0: 4})), allow_pickle=False) as z:
        old = {k: z[k] for k in z.files if not k.startswith("m_")}
    buffer = io.BytesIO()
    np.savez(buffer, allow_pickle=False, **old)
    again = StreamState(ItemSpace(), WEIGHTS)
    again.merchandising.update([r.event for r in basket(time.time())], np.arange(4) % 3)
    again.restore(buffer.getvalue())
    assert again.merchandising.bought_together.partners(again.space.index("a")) == {}
    assert again.merchandising.windowed.arrays()["t0_len"].size == 0


def test_a_rebuild_from_the_stream_counts_them_once() -> None:
    state = StreamState(ItemSpace(), WEIGHTS)
    records = basket(time.time())
    state.update_pairs(records)  # counts warmed from the store, pairs and these from the stream
    a = state.space.index("a")
    assert names(state, state.merchandising.bought_together.partners(a)) == {"b": 1.0}
    assert state.popularity(len(state.space)).sum() == 0.0  # popularity was not counted again
