"""Embedded-backend specifics: retention trim, offsets survive reopening, shard count guard."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from streamrec.errors import OverloadedError, StreamUnavailable
from streamrec.stream.sqlite import SqliteEventLog
from tests.factories import make_event, random_events


def test_trim_deletes_old_events_but_keeps_offsets(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    now = time.time()
    log.append([make_event(received_at=now - 10_000), make_event(received_at=now)])
    assert log.trim(now - 5_000) == 1
    log.append([make_event(received_at=now)])
    assert log.status()[0].head == 3
    records = log.consumer("g").poll(10, 0)
    assert [r.offset for r in records] == [1, 2]
    log.close()


def test_offsets_continue_after_reopen(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 2)
    log.append(random_events(20))
    heads = [s.head for s in log.status()]
    log.close()
    again = SqliteEventLog(tmp_path / "s.db", 2)
    again.append(random_events(20, seed=9))
    assert sum(s.head for s in again.status()) == sum(heads) + 20
    again.close()


def test_fewer_shards_than_stored_is_refused(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 4)
    log.append(random_events(50))
    log.close()
    with pytest.raises(StreamUnavailable, match="shard_count"):
        SqliteEventLog(tmp_path / "s.db", 2)


def test_overload_is_refused_not_queued(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1, max_pending_events=10)
    future = log.submit(random_events(11))
    with pytest.raises(OverloadedError):
        future.result()
    log.close()


def test_closed_log_refuses(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    log.close()
    with pytest.raises(StreamUnavailable):
        log.append([make_event()])


def test_trim_keeps_every_shard_past_the_cut(tmp_path: Path) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 3)
    now = time.time()
    old = [make_event(f"u{i}", received_at=now - 10_000 + i * 0.1) for i in range(12_000)]
    new = [make_event(f"u{i}", received_at=now) for i in range(300)]
    log.append(old)
    log.append(new)
    assert log.trim(now - 5_000) == 12_000
    assert log.trim(now - 5_000) == 0
    kept = []
    consumer = log.consumer("g")
    while batch := consumer.poll(1000, 0):
        kept.extend(batch)
    assert sorted(r.event.event_id for r in kept) == sorted(e.event_id for e in new)
    log.close()


def test_a_failing_batch_fails_its_futures_and_the_writer_goes_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    real_insert = log._insert
    monkeypatch.setattr(log, "_insert", lambda events: [][0])  # a bug: IndexError
    with pytest.raises(StreamUnavailable, match="IndexError"):
        log.submit(random_events(2)).result(timeout=10)
    monkeypatch.setattr(log, "_insert", real_insert)
    log.submit(random_events(3)).result(timeout=10)
    assert log.status()[0].head == 3
    log.close()


# The writer thread is killed on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_dead_writer_thread_is_restarted_by_the_next_submit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = SqliteEventLog(tmp_path / "s.db", 1)
    real_write = log._write_batch

    def die(batch: object, count: int) -> None:
        raise SystemExit  # ends the thread without resolving the batch

    monkeypatch.setattr(log, "_write_batch", die)
    stranded = log.submit(random_events(1))
    log._writer.join(timeout=10)
    assert not log._writer.is_alive() and not stranded.done()
    monkeypatch.setattr(log, "_write_batch", real_write)
    log.submit(random_events(2)).result(timeout=10)
    assert log.status()[0].head == 2
    log.close()
