"""What every HistoryStore backend must do (the DynamoDB table of the AWS sample)."""

from __future__ import annotations

import time

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.stream.base import StreamRecord
from tests.factories import make_event
from tests.stores.conftest import HistoryFactory

DAY = 86400.0


def records(*events, shard: int = 0, start: int = 0) -> list[StreamRecord]:  # type: ignore[no-untyped-def]
    return [StreamRecord(shard, start + i, e) for i, e in enumerate(events)]


def upto(recs: list[StreamRecord]) -> dict[int, int]:
    out: dict[int, int] = {}
    for r in recs:
        out[r.shard] = max(out.get(r.shard, 0), r.offset + 1)
    return out


def test_newest_first_one_row_per_item(make_history: HistoryFactory) -> None:
    store = make_history()
    now = time.time()
    recs = records(
        make_event("u", "a", "view", now - 30),
        make_event("u", "b", "view", now - 20),
        make_event("u", "a", "purchase", now - 10),
        make_event("v", "c", "view", now),
    )
    store.apply(recs, upto(recs))
    rows = store.recent("u", 10)
    assert [(r.item_id, r.event_type, r.count) for r in rows] == [
        ("a", "purchase", 2),
        ("b", "view", 1),
    ]
    assert rows[0].last_seen == recs[2].event.timestamp


def test_filter_by_event_type_and_limit(make_history: HistoryFactory) -> None:
    store = make_history()
    now = time.time()
    recs = records(
        *[make_event("u", f"i{k}", "view", now - 100 + k) for k in range(5)],
        make_event("u", "i0", "purchase", now),
    )
    store.apply(recs, upto(recs))
    assert [r.item_id for r in store.recent("u", 2, "view")] == ["i4", "i3"]
    assert [r.item_id for r in store.recent("u", 10, "purchase")] == ["i0"]


def test_replay_and_duplicate_event_ids_change_nothing(make_history: HistoryFactory) -> None:
    store = make_history()
    e = make_event("u", "a")
    recs = records(e, make_event("u", "b"))
    store.apply(recs, upto(recs))
    store.apply(recs, upto(recs))  # a replay of the same offsets
    retry = records(e, start=2)  # a client retry: same event id, new offset
    store.apply(retry, upto(retry))
    assert {r.item_id: r.count for r in store.recent("u", 10)} == {"a": 1, "b": 1}
    assert store.positions() == {0: 3}


def test_erase_user(make_history: HistoryFactory) -> None:
    store = make_history()
    recs = records(make_event("u", "a"), make_event("v", "a"))
    store.apply(recs, upto(recs))
    assert store.erase_user("u") == 1
    assert store.recent("u", 10) == []
    assert len(store.recent("v", 10)) == 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    age_days=st.floats(min_value=0, max_value=60), ttl_days=st.integers(min_value=1, max_value=45)
)
def test_ttl_counts_from_receipt(
    make_history: HistoryFactory, age_days: float, ttl_days: int
) -> None:
    store = make_history(history_days=ttl_days)
    now = time.time()
    received = now - age_days * DAY
    # The event happened long before it was received: only receipt time counts.
    recs = records(make_event("u", "a", received_at=received, timestamp=received - 90 * DAY))
    store.apply(recs, upto(recs))
    visible = bool(store.recent("u", 10, now=now))
    assert visible == (received + ttl_days * DAY > now)
    purged = store.purge_expired(now)
    assert purged == (0 if visible else 1)
    assert bool(store.recent("u", 10, now=now - 1e9)) == visible


def test_expired_row_starts_counting_afresh(make_history: HistoryFactory) -> None:
    store = make_history(history_days=1)
    now = time.time()
    recs = records(
        make_event("u", "a", received_at=now - 2 * DAY), make_event("u", "a", received_at=now)
    )
    store.apply(recs[:1], upto(recs[:1]))
    store.apply(recs[1:], upto(recs))
    assert store.recent("u", 10, now=now)[0].count == 1


def test_purge_removes_every_expired_row_and_event_id_not_a_fixed_number(
    make_history: HistoryFactory,
) -> None:
    store = make_history(history_days=1)
    now = time.time()
    old = [make_event(f"u{k}", "a", received_at=now - 3 * DAY) for k in range(35)]
    recs = records(*old, make_event("fresh", "a", received_at=now))
    store.apply(recs[:35], upto(recs[:35]))  # their event ids are remembered until now - 2 days
    store.apply(recs[35:], upto(recs))
    assert store.purge_expired(now, max_rows=10) == 35
    assert store.purge_expired(now, max_rows=10) == 0
    assert [e.item_id for e in store.recent("fresh", 10, now=now)] == ["a"]
    # The expired event ids were forgotten too: the same ids, resent, count again.
    again = records(*old, start=len(recs))
    assert store.apply(again, upto(again)) == 35
