"""Consumers drop an erased user's events below the erasure's stream position, and commit past
them; events the user sends afterwards are kept."""

from __future__ import annotations

from pathlib import Path

import msgspec

from streamrec.consumers.erased import ErasedFilter, SkippedRuns, user_digest
from streamrec.consumers.runner import ConsumerRunner
from streamrec.consumers.store_sink import StoreSink
from streamrec.events import RECOMMENDATION_EVENT_TYPE
from streamrec.stores.base import ErasureMark
from streamrec.stores.sqlite_history import SqliteHistoryStore
from streamrec.stores.sqlite_user_state import SqliteUserStateStore
from streamrec.stream.base import StreamRecord
from streamrec.stream.sqlite import SqliteEventLog
from tests.consumers.test_runner import RecordingSink
from tests.factories import make_event


class Ledger:
    def __init__(self) -> None:
        self.marks: list[ErasureMark] = []

    def add(self, shard: int, upto: int, user: str) -> None:
        mark_id = len(self.marks) + 1
        self.marks.append(ErasureMark(mark_id, shard, upto, user_digest(user), 0.0))

    def erasures(self, after: int = 0) -> list[ErasureMark]:
        return [m for m in self.marks if m.mark_id > after]


def records(*users: str, shard: int = 0, start: int = 0) -> list[StreamRecord]:
    return [StreamRecord(shard, start + i, make_event(u, f"i{i}")) for i, u in enumerate(users)]


def test_the_digest_is_not_the_id() -> None:
    assert user_digest("alice") != user_digest("bob")
    assert "alice" not in user_digest("alice") and len(user_digest("alice")) == 64


def test_drops_only_the_marked_user_below_the_mark_on_their_shard() -> None:
    ledger = Ledger()
    ledger.add(shard=0, upto=3, user="gone")
    erased = ErasedFilter(ledger)
    assert [m.digest for m in erased.refresh()] == [user_digest("gone")]
    batch = records("gone", "kept", "gone", "gone") + records("gone", shard=1)
    kept, dropped = erased.split(batch)
    assert [(r.shard, r.offset) for r in dropped] == [(0, 0), (0, 2)]
    assert [(r.shard, r.offset) for r in kept] == [(0, 1), (0, 3), (1, 0)]
    assert erased.refresh() == []  # nothing new


def test_skipped_runs_move_the_safe_offset_past_dropped_records() -> None:
    runs = SkippedRuns()
    runs.polled(records("a", "a", "a", "a", "a", start=10))
    runs.add(records("x", "x", start=12))  # offsets 12, 13
    runs.add(records("x", start=14))
    assert runs.advance({0: 11}) == {0: 11}  # 11 is not durable yet: the run waits
    assert runs.advance({0: 12}) == {0: 15}
    assert runs.advance({0: 12}) == {0: 12}  # the run was used up


def test_a_shard_with_only_dropped_records_is_committed_from_where_reading_began() -> None:
    runs = SkippedRuns()
    dropped = records("x", "x", shard=1, start=5)
    runs.polled(dropped)
    runs.add(dropped)
    assert runs.advance({}) == {1: 7}


def test_the_runner_drops_erased_events_and_commits_past_them(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("gone", "a"), make_event("kept", "b"), make_event("gone", "c")])
    ledger = Ledger()
    ledger.add(shard=0, upto=3, user="gone")
    log.append([make_event("gone", "after")])  # sent after the erasure: kept
    sink = RecordingSink()
    runner = ConsumerRunner(log, sink, erased=ErasedFilter(ledger))
    runner.drain()
    assert [(r.event.user_id, r.event.item_id) for r in sink.records] == [
        ("kept", "b"),
        ("gone", "after"),
    ]
    assert runner.dropped == 2
    assert log.status(["rec"])[0].committed["rec"] == 4
    log.close()


def test_a_batch_of_erased_events_only_is_still_committed(tmp_path: Path) -> None:
    """The erasure waits for every group to commit past it: a sink that never saw the dropped
    records must not hold the commit back."""
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("gone", f"i{i}") for i in range(5)])
    ledger = Ledger()
    ledger.add(shard=0, upto=5, user="gone")
    store = SqliteHistoryStore(tmp_path / "h.db", history_days=30)
    runner = ConsumerRunner(log, StoreSink("history", store), erased=ErasedFilter(ledger))
    runner.drain()
    assert store.recent("gone", 10) == []
    assert log.status(["history"])[0].committed["history"] == 5
    store.close()
    log.close()


def test_marks_are_read_from_the_user_state_store(tmp_path: Path) -> None:
    state = SqliteUserStateStore(tmp_path / "state.db")
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("gone", "a", session_id="s"), make_event("kept", "b", session_id="s")])
    state.record_erasure(0, 2, user_digest("gone"), now=1.0)
    runner = ConsumerRunner(log, StoreSink("realtime", state), erased=ErasedFilter(state))
    runner.drain()
    assert state.recent_events("gone", 10) == []
    assert [e.item_id for e in state.recent_events("session:s", 10)] == ["b"]
    state.close()
    log.close()


def test_the_lake_drops_buffered_events_of_an_erased_user_and_commits_at_once(
    tmp_path: Path,
) -> None:
    """Events buffered before the mark never reach a file, and the group commits past the
    erasure at the next checkpoint, not a flush interval (60 s by default) later."""
    from streamrec.config import Settings
    from streamrec.consumers.lake import LakeSink
    from streamrec.lake import LakeReader
    from streamrec.stream import open_event_log

    settings = Settings(data_dir=tmp_path / "data", shard_count=1, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    log.append([make_event(u, f"i{k}") for k in range(10) for u in ("gone", "kept")])
    state = SqliteUserStateStore(tmp_path / "state.db")
    runner = ConsumerRunner(
        log,
        LakeSink.from_settings(settings),
        checkpoint_interval_s=3600.0,
        erased=ErasedFilter(state),
    )
    runner.drain()  # all 20 buffered, nothing committed yet
    assert log.status(["lake"])[0].committed.get("lake", 0) == 0
    state.record_erasure(0, 20, user_digest("gone"), now=1.0)
    log.append([make_event("gone", "after"), make_event("gone", "after-2")])
    runner.drain()  # learns the mark with its next batch; writes at the checkpoint
    assert log.status(["lake"])[0].committed["lake"] == 22
    users = LakeReader(settings.lake_location).query("SELECT user_id, item_id FROM events_raw")
    rows = sorted(zip(*users.to_pydict().values(), strict=True))
    assert rows == sorted(
        [("gone", "after"), ("gone", "after-2")] + [("kept", f"i{k}") for k in range(10)]
    )
    runner.close()
    state.close()
    log.close()


def test_the_lake_commits_past_a_mark_that_came_before_it_read_the_shard(
    tmp_path: Path,
) -> None:
    """A lake consumer still starting (or running at a lower priority) may learn of a mark
    before it read a record of the shard: it still writes as soon as it has read up to it."""
    from streamrec.config import Settings
    from streamrec.consumers.lake import LakeSink
    from streamrec.stream import open_event_log

    settings = Settings(data_dir=tmp_path / "data", shard_count=1, lake_flush_interval_s=3600.0)
    log = open_event_log(settings)
    state = SqliteUserStateStore(tmp_path / "state.db")
    sink = LakeSink.from_settings(settings)
    runner = ConsumerRunner(log, sink, checkpoint_interval_s=3600.0, erased=ErasedFilter(state))
    log.append([make_event(u, f"i{k}") for k in range(10) for u in ("gone", "kept")])
    state.record_erasure(0, 20, user_digest("gone"), now=1.0)
    sink.erased(state.erasures())  # told before it read anything
    runner.drain()
    assert log.status(["lake"])[0].committed["lake"] == 20
    runner.close()
    state.close()
    log.close()


def test_a_serving_tail_forgets_the_users_of_new_marks(tmp_path: Path) -> None:
    from streamrec.consumers.realtime import StreamTailSink
    from streamrec.serving.space import ItemSpace
    from streamrec.serving.state_snapshot import StateFeed
    from streamrec.serving.stream_state import StreamState

    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("gone", "a"), make_event("kept", "b")])
    state = SqliteUserStateStore(tmp_path / "state.db")
    feed = StateFeed(StreamState(ItemSpace(), {}), counted={})
    runner = ConsumerRunner(log, StreamTailSink("tail", feed, {0: 2}), erased=ErasedFilter(state))
    runner.drain()
    assert b"gone" in feed.state.snapshot({})
    state.record_erasure(0, 2, user_digest("gone"), now=1.0)
    log.append([make_event("kept", "c")])  # the next batch brings the mark along
    runner.drain()
    assert b"gone" not in feed.state.snapshot({})
    assert b"kept" in feed.state.snapshot({})
    runner.close()
    state.close()
    log.close()


def test_runs_of_served_recommendations_after_a_commit_are_committed_too(tmp_path: Path) -> None:
    """A sink that takes no served-recommendation records wrote nothing since its last commit;
    each later run of such records is still passed, or the group's lag never reaches 0 while
    pages only ask for recommendations."""
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("u", f"i{i}") for i in range(3)])
    store = SqliteHistoryStore(tmp_path / "h.db", history_days=30)
    runner = ConsumerRunner(log, StoreSink("history", store), checkpoint_interval_s=0)
    runner.drain()
    for n in range(3):
        served = msgspec.structs.replace(
            make_event("u", f"r{n}"), event_type=RECOMMENDATION_EVENT_TYPE
        )
        log.append([served])
        runner.drain()
        assert log.status(["history"])[0].committed["history"] == 4 + n
    assert [e.item_id for e in store.recent("u", 10)] == ["i2", "i1", "i0"]
    store.close()
    log.close()


def test_a_restarted_runner_never_takes_the_commit_back_to_the_sinks_offset(
    tmp_path: Path,
) -> None:
    """The store's own position stops at the last event it wrote; the group had committed
    past the served recommendations after it, and a restart must not rewind that."""
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.append([make_event("u", "i0")])
    served = [
        msgspec.structs.replace(make_event("u", f"r{n}"), event_type=RECOMMENDATION_EVENT_TYPE)
        for n in range(3)
    ]
    log.append(served[:2])
    store = SqliteHistoryStore(tmp_path / "h.db", history_days=30)
    ConsumerRunner(log, StoreSink("history", store), checkpoint_interval_s=0).drain()
    assert log.status(["history"])[0].committed["history"] == 3
    restarted = ConsumerRunner(log, StoreSink("history", store), checkpoint_interval_s=0)
    restarted.drain()
    assert log.status(["history"])[0].committed["history"] == 3
    log.append(served[2:])
    restarted.drain()
    assert log.status(["history"])[0].committed["history"] == 4
    store.close()
    log.close()
