"""What every EventLog backend must do."""

from __future__ import annotations

import threading
from collections import Counter

from streamrec.stream import StreamRecord, shard_for
from tests.factories import make_event, random_events
from tests.stream.conftest import LogFactory


def drain(log_consumer, limit: int = 100_000) -> list[StreamRecord]:  # type: ignore[no-untyped-def]
    out: list[StreamRecord] = []
    while True:
        batch = log_consumer.poll(1000, 0.5 if not out else 0.2)
        if not batch:
            return out
        out.extend(batch)
        if len(out) >= limit:
            return out


def test_append_then_read_everything_in_order_per_shard(make_log: LogFactory) -> None:
    log = make_log(4)
    events = random_events(500)
    log.append(events)
    records = drain(log.consumer("g"))
    assert sorted(r.event.event_id for r in records) == sorted(e.event_id for e in events)
    for shard in range(4):
        offsets = [r.offset for r in records if r.shard == shard]
        assert offsets == list(range(len(offsets)))
    for r in records:
        assert r.shard == shard_for(r.event.user_id, 4)


def test_one_users_events_keep_their_order(make_log: LogFactory) -> None:
    log = make_log(3)
    events = [make_event("alice", f"i{i}") for i in range(50)]
    log.append(events)
    got = [r.event.item_id for r in drain(log.consumer("g")) if r.event.user_id == "alice"]
    assert got == [e.item_id for e in events]


def test_committed_group_resumes_where_it_left(make_log: LogFactory) -> None:
    log = make_log(2)
    log.append(random_events(100))
    consumer = log.consumer("g")
    first = drain(consumer)
    committed: dict[int, int] = {}
    for r in first[:40]:
        committed[r.shard] = max(committed.get(r.shard, 0), r.offset + 1)
    consumer.commit(committed)
    consumer.close()
    again = drain(log.consumer("g"))
    done = {(r.shard, r.offset) for r in first if r.offset < committed.get(r.shard, 0)}
    assert {(r.shard, r.offset) for r in again} == {(r.shard, r.offset) for r in first} - done


def test_groups_are_independent_and_status_reports_lag(make_log: LogFactory) -> None:
    log = make_log(2)
    log.append(random_events(60))
    a = log.consumer("a")
    records = drain(a)
    heads: dict[int, int] = Counter()
    for r in records:
        heads[r.shard] = max(heads[r.shard], r.offset + 1)
    a.commit(dict(heads))
    status = {s.shard: s for s in log.status(["a", "b"])}
    assert sum(s.head for s in status.values()) == 60
    for s in status.values():
        assert s.lag("a") == 0
        assert s.lag("b") == s.head
    assert len(drain(log.consumer("b"))) == 60


def test_concurrent_submissions_are_all_durable(make_log: LogFactory) -> None:
    log = make_log(2)
    batches = [random_events(50, seed=s) for s in range(8)]
    threads = [threading.Thread(target=log.append, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    records = drain(log.consumer("g"))
    assert len(records) == 400
    assert len({(r.shard, r.offset) for r in records}) == 400


def test_poll_wakes_up_when_events_arrive(make_log: LogFactory) -> None:
    log = make_log(1)
    consumer = log.consumer("g")
    assert consumer.poll(10, 0.05) == []
    timer = threading.Timer(0.1, log.append, args=([make_event()],))
    timer.start()
    got = consumer.poll(10, 5.0)
    timer.join()
    assert len(got) == 1


def test_a_reader_starts_at_given_offsets_under_no_group(make_log: LogFactory) -> None:
    log = make_log(2)
    log.append(random_events(200))
    groups_before = {g for s in log.status() for g in s.committed}
    reader = log.reader({0: 5})
    got = {(r.shard, r.offset) for r in drain(reader)}
    reader.commit({0: 1_000})  # does nothing
    reader.close()
    heads = {s.shard: s.head for s in log.status()}
    want = {(0, o) for o in range(5, heads[0])} | {(1, o) for o in range(heads[1])}
    assert got == want
    assert {g for s in log.status() for g in s.committed} == groups_before


def test_group_members_are_counted_without_joining(make_log: LogFactory) -> None:
    """Kafka tells how many consumers a group has; the embedded log says it cannot (None: its
    consumers hold a lock in data_dir instead)."""
    log = make_log(2)
    log.append(random_events(10))
    if log.group_members("g") is None:
        assert type(log).__name__ == "SqliteEventLog"
        return
    assert log.group_members("g") == 0
    consumer = log.consumer("g")
    assert log.group_members("g") == 1
    assert log.group_members("other") == 0
    consumer.close()
    assert log.group_members("g") == 0
