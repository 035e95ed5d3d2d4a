"""The embedded stream: shards kept in one SQLite database in WAL mode.

Writes go through one writer thread that takes every submission waiting at the time and stores them
in a single transaction (group commit), so concurrent requests share one fsync. Offsets are assigned
inside the write transaction from the ``shards`` table, so several processes (a server and an
``import`` command) may append to the same file safely.

The writer thread must never leave a submission waiting for good: any error in a batch fails that
batch's futures with ``StreamUnavailable``, and if the thread dies anyway, the next ``submit``
starts a new one (the queued submissions are kept). The HTTP layer also bounds how long it waits
(``append_timeout_s``), so a stuck writer costs a 503 with Retry-After, never a hung request.
"""

from __future__ import annotations

import fcntl
import logging
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from pathlib import Path

from streamrec.errors import OverloadedError, StreamUnavailable
from streamrec.events import Event, decode_event, encode_event
from streamrec.sqlite_wal import DEFAULT_WAL_MAX_BYTES, WalBound
from streamrec.stream.base import ShardStatus, StreamRecord
from streamrec.stream.partition import shard_for

_SCHEMA = """
CREATE TABLE IF NOT EXISTS events (
    shard INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    received_at REAL NOT NULL,
    payload BLOB NOT NULL,
    PRIMARY KEY (shard, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS shards (shard INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS group_offsets (
    grp TEXT NOT NULL, shard INTEGER NOT NULL, next_offset INTEGER NOT NULL,
    PRIMARY KEY (grp, shard)
) WITHOUT ROWID;
"""

log = logging.getLogger(__name__)

_Submission = tuple[Sequence[Event], "Future[None]"]
_MAX_EVENTS_PER_TRANSACTION = 20_000
CHECKPOINT_INTERVAL_S = 1.0
TRIM_CHUNK_ROWS = 5_000


def connect(path: Path) -> sqlite3.Connection:
    """A connection with the pragmas every user of the stream file needs."""
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")  # an acknowledged event survives power loss
    conn.execute("PRAGMA busy_timeout=30000")
    return conn


class WriteLock:
    """The stream file's writers (each API process's writer thread, each consumer committing
    its offsets, retention trims, an import) queue on an exclusive file lock before they take
    SQLite's: the kernel wakes the next one as soon as the lock is free, where SQLite's busy
    handler sleeps 1, 2, 5, 10... ms between tries. With several API worker processes each
    commit (an fsync) otherwise paid those sleeps on top of the others' commits.

    One instance per writer: flock excludes open files, so two threads of a process with their
    own instances exclude each other too."""

    def __init__(self, db_path: Path) -> None:
        self._fd = os.open(f"{db_path}.write-lock", os.O_RDWR | os.O_CREAT, 0o644)

    def __enter__(self) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_EX)

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(self._fd, fcntl.LOCK_UN)

    def close(self) -> None:
        os.close(self._fd)


class SqliteEventLog:
    def __init__(
        self,
        path: str | Path,
        shard_count: int,
        max_pending_events: int = 100_000,
        poll_interval_s: float = 0.005,
        wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES,
    ):
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._shard_count = shard_count
        # How often an idle consumer looks for events appended by *other* processes (its own
        # process's appends wake it at once): the API workers and consumers of `serve`.
        self.poll_interval_s = poll_interval_s
        self._max_pending = max_pending_events
        self._pending = 0
        self._pending_lock = threading.Lock()
        self._queue: queue.SimpleQueue[_Submission | None] = queue.SimpleQueue()
        self._appended = threading.Condition()
        self._conn = connect(self._path)
        self._write_lock = WriteLock(self._path)
        self._conn.executescript(_SCHEMA)
        # Checkpoints run on their own thread: an automatic one runs inside the COMMIT that crosses
        # the WAL threshold, and every acknowledgement waiting on that commit stalled with it.
        self._conn.execute("PRAGMA wal_autocheckpoint=0")
        self._wal = WalBound(self._path, wal_max_bytes)
        self._wal.configure(self._conn)
        self._check_shard_count()
        self._closed = False
        self._stop_checkpoints = threading.Event()
        self._writer_lock = threading.Lock()
        self._writer = self._start_writer()
        self._checkpointer = threading.Thread(
            target=self._checkpoint_loop, name="stream-checkpoint", daemon=True
        )
        self._checkpointer.start()

    @property
    def shard_count(self) -> int:
        return self._shard_count

    def _check_shard_count(self) -> None:
        row = self._conn.execute("SELECT COALESCE(MAX(shard), -1) FROM shards").fetchone()
        if row[0] >= self._shard_count:
            # Events already live on shards we would no longer read: refuse rather than lose them.
            raise StreamUnavailable(
                f"{self._path} holds {row[0] + 1} shards; shard_count={self._shard_count} would hide"
                " some. Keep shard_count or start with a new data_dir."
            )

    # -- writing -------------------------------------------------------------------------------

    def _start_writer(self) -> threading.Thread:
        writer = threading.Thread(target=self._write_loop, name="stream-writer", daemon=True)
        writer.start()
        return writer

    def _ensure_writer(self) -> None:
        """Restart the writer thread if it died (what it had queued is still in the queue)."""
        with self._writer_lock:
            if not self._writer.is_alive() and not self._closed:
                log.error("the stream writer thread of %s died; restarting it", self._path)
                self._writer = self._start_writer()

    def submit(self, events: Sequence[Event]) -> Future[None]:
        future: Future[None] = Future()
        if self._closed:
            future.set_exception(StreamUnavailable("the stream is closed"))
            return future
        self._ensure_writer()
        with self._pending_lock:
            if self._pending + len(events) > self._max_pending:
                future.set_exception(OverloadedError("too many events waiting to be written"))
                return future
            self._pending += len(events)
        self._queue.put((events, future))
        return future

    def append(self, events: Sequence[Event]) -> None:
        self.submit(events).result()

    def _write_loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            count = len(first[0])
            while count < _MAX_EVENTS_PER_TRANSACTION:
                try:
                    nxt = self._queue.get_nowait()
                except queue.Empty:
                    break
                if nxt is None:
                    self._queue.put(None)  # finish this batch, then stop
                    break
                batch.append(nxt)
                count += len(nxt[0])
            self._write_batch(batch, count)

    def _write_batch(self, batch: list[_Submission], count: int) -> None:
        try:
            self._insert([e for events, _ in batch for e in events])
            error: BaseException | None = None
        except sqlite3.Error as exc:
            error = StreamUnavailable(f"cannot append to the stream: {exc}")
        except Exception as exc:  # a bug must fail this batch, not strand every later one
            log.exception("the stream writer failed on a batch of %d events", count)
            error = StreamUnavailable(f"cannot append to the stream: {type(exc).__name__}")
        with self._pending_lock:
            self._pending -= count
        for _, future in batch:
            _resolve(future, error)
        self._wal.enforce(self._conn)  # after the acknowledgements: they need not wait for it
        if error is None:
            with self._appended:
                self._appended.notify_all()

    def _insert(self, events: list[Event]) -> None:
        with self._write_lock:
            self._insert_locked(events)

    def _insert_locked(self, events: list[Event]) -> None:
        conn = self._conn
        conn.execute("BEGIN IMMEDIATE")
        try:
            heads = dict(conn.execute("SELECT shard, next_offset FROM shards").fetchall())
            rows = []
            shards = self._shard_count
            for event in events:
                # One shard needs no hash (a blake2b per event is most of this loop's time).
                shard = shard_for(event.user_id, shards) if shards > 1 else 0
                offset = heads.get(shard, 0)
                heads[shard] = offset + 1
                rows.append((shard, offset, event.received_at, encode_event(event)))
            conn.executemany("INSERT INTO events VALUES (?, ?, ?, ?)", rows)
            conn.executemany("INSERT OR REPLACE INTO shards VALUES (?, ?)", heads.items())
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise

    # -- reading -------------------------------------------------------------------------------

    def consumer(self, group: str) -> SqliteConsumer:
        return SqliteConsumer(self, group)

    def reader(self, start: Mapping[int, int]) -> SqliteConsumer:
        return SqliteReader(self, start)

    def group_members(self, group: str) -> int | None:
        return None  # the group lock in data_dir says (streamrec.locks)

    def wait_for_append(self, timeout_s: float) -> None:
        """Block until this process appends something, or timeout (other processes: polling)."""
        with self._appended:
            self._appended.wait(timeout_s)

    def status(self, groups: Sequence[str] = ()) -> list[ShardStatus]:
        conn = connect(self._path)
        try:
            heads = dict(conn.execute("SELECT shard, next_offset FROM shards").fetchall())
            committed: dict[int, dict[str, int]] = {s: {} for s in range(self._shard_count)}
            for grp, shard, offset in conn.execute(
                "SELECT grp, shard, next_offset FROM group_offsets"
            ):
                if shard in committed:
                    committed[shard][grp] = offset
        finally:
            conn.close()
        for shard_groups in committed.values():
            for grp in groups:
                shard_groups.setdefault(grp, 0)
        return [
            ShardStatus(shard=s, head=heads.get(s, 0), committed=committed[s])
            for s in range(self._shard_count)
        ]

    def trim(self, older_than: float) -> int:
        """Delete, shard by shard and in short transactions, the events received before
        `older_than`. A plain `DELETE ... WHERE received_at < ?` scanned the whole table while
        holding the write lock, and every acknowledgement waited for that scan."""
        conn = connect(self._path)
        lock = WriteLock(self._path)
        try:
            deleted = 0
            for shard in range(self._shard_count):
                end = _first_offset_received_since(conn, shard, older_than)
                deleted += _delete_before(conn, lock, shard, end)
            return deleted
        finally:
            conn.close()
            lock.close()

    def erase_user(self, user_id: str) -> int:
        """Delete the user's events from their shard (in chunks; payloads are decoded to find
        them), with secure_delete so freed pages hold no copy, rewrite the file (VACUUM) so no
        moved copy of a cell survives either, then truncate the WAL."""
        shard = shard_for(user_id, self._shard_count) if self._shard_count > 1 else 0
        conn = connect(self._path)
        try:
            conn.execute("PRAGMA secure_delete=ON")
            deleted = 0
            start = -1
            while True:
                rows = conn.execute(
                    "SELECT offset, payload FROM events WHERE shard = ? AND offset > ?"
                    " ORDER BY offset LIMIT ?",
                    (shard, start, TRIM_CHUNK_ROWS),
                ).fetchall()
                if not rows:
                    break
                start = rows[-1][0]
                theirs = [(shard, o) for o, p in rows if decode_event(p).user_id == user_id]
                conn.executemany("DELETE FROM events WHERE shard = ? AND offset = ?", theirs)
                deleted += len(theirs)
            if deleted:
                # secure_delete zeroes a row where it lies, but page splits and merges had moved
                # copies of cells into unallocated space: VACUUM writes every page afresh (the
                # whole file, appends wait meanwhile; erasures are rare)
                conn.execute("VACUUM")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
            return deleted
        finally:
            conn.close()

    def _checkpoint_loop(self) -> None:
        """Copy the WAL into the database in the background. PASSIVE never blocks the writer;
        it copies what no reader still needs, and the WAL is reused from its start after."""
        conn = connect(self._path)
        try:
            while not self._stop_checkpoints.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy or locked now: the next round catches up
                    continue
        finally:
            conn.close()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        self._writer.join(timeout=30)
        self._stop_checkpoints.set()
        self._checkpointer.join(timeout=30)
        self._conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
        self._conn.close()
        self._write_lock.close()

    @property
    def path(self) -> Path:
        return self._path


def _resolve(future: Future[None], error: BaseException | None) -> None:
    """Complete a submission's future; one its waiter gave up on (cancelled) is left alone."""
    if future.done():
        return
    try:
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(error)
    except Exception:  # cancelled between the check and the set
        log.debug("a submission was cancelled while it was written")


def _first_offset_received_since(conn: sqlite3.Connection, shard: int, since: float) -> int:
    """Binary search on the primary key: receipt times grow with offsets within a shard (they are
    stamped just before the group commit that numbers them)."""
    row = conn.execute(
        "SELECT MIN(offset), MAX(offset) FROM events WHERE shard = ?", (shard,)
    ).fetchone()
    if row[0] is None:
        return 0
    low, high = int(row[0]), int(row[1]) + 1
    while low < high:
        middle = (low + high) // 2
        found = conn.execute(
            "SELECT offset, received_at FROM events WHERE shard = ? AND offset >= ?"
            " ORDER BY offset LIMIT 1",
            (shard, middle),
        ).fetchone()
        if found is None or found[1] >= since:
            high = middle
        else:
            low = int(found[0]) + 1
    return low


def _delete_before(conn: sqlite3.Connection, lock: WriteLock, shard: int, end: int) -> int:
    deleted = 0
    while True:
        with lock:
            cursor = conn.execute(
                "DELETE FROM events WHERE shard = ? AND offset IN (SELECT offset FROM events"
                " WHERE shard = ? AND offset < ? ORDER BY offset LIMIT ?)",
                (shard, shard, end, TRIM_CHUNK_ROWS),
            )
        deleted += cursor.rowcount
        if cursor.rowcount < TRIM_CHUNK_ROWS:
            return deleted


class SqliteConsumer:
    """Reads every shard of the embedded log for one group (one process per group at a time)."""

    def __init__(self, log: SqliteEventLog, group: str) -> None:
        self._log = log
        self._group = group
        self._conn = connect(log.path)
        self._write_lock = WriteLock(log.path)
        rows = self._conn.execute(
            "SELECT shard, next_offset FROM group_offsets WHERE grp = ?", (group,)
        ).fetchall()
        stored = dict(rows)
        self._positions = {s: stored.get(s, 0) for s in range(log.shard_count)}
        self._next_shard = 0

    @property
    def group(self) -> str:
        return self._group

    def poll(self, max_records: int, timeout_s: float) -> list[StreamRecord]:
        records = self._read(max_records)
        if records or timeout_s <= 0:
            return records
        deadline = time.monotonic() + timeout_s
        while not records and time.monotonic() < deadline:
            step = max(self._log.poll_interval_s, 0.001)
            self._log.wait_for_append(min(step, max(0.0, deadline - time.monotonic())))
            records = self._read(max_records)
        return records

    def _read(self, max_records: int) -> list[StreamRecord]:
        out: list[StreamRecord] = []
        shards = self._log.shard_count
        for i in range(shards):
            shard = (self._next_shard + i) % shards
            budget = max_records - len(out)
            if budget <= 0:
                break
            rows = self._conn.execute(
                "SELECT offset, payload FROM events WHERE shard = ? AND offset >= ?"
                " ORDER BY offset LIMIT ?",
                (shard, self._positions[shard], budget),
            ).fetchall()
            for offset, payload in rows:
                out.append(StreamRecord(shard, offset, decode_event(payload)))
            if rows:
                self._positions[shard] = rows[-1][0] + 1
        self._next_shard = (self._next_shard + 1) % shards
        return out

    def on_revoke(self, listener: Callable[[list[int]], None]) -> None:
        """One process reads all shards of the embedded log for a group: nothing is revoked."""

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        with self._write_lock:
            self._commit_locked(next_offsets)

    def _commit_locked(self, next_offsets: Mapping[int, int]) -> None:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            self._conn.executemany(
                "INSERT OR REPLACE INTO group_offsets VALUES (?, ?, ?)",
                [(self._group, s, o) for s, o in next_offsets.items()],
            )
            self._conn.execute("COMMIT")
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self._conn.close()
        self._write_lock.close()


class SqliteReader(SqliteConsumer):
    """Reads from given offsets under no group; commits nothing (see ``EventLog.reader``)."""

    def __init__(self, log: SqliteEventLog, start: Mapping[int, int]) -> None:
        super().__init__(log, "")
        self._positions = {s: start.get(s, 0) for s in range(log.shard_count)}

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        return None
