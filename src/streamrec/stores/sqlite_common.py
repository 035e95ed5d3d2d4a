"""What the SQLite stores share: connections per thread, and the stream positions table."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

import orjson

from streamrec.sqlite_wal import DEFAULT_WAL_MAX_BYTES, WalBound
from streamrec.stream.base import StreamRecord

POSITIONS_SCHEMA = """
CREATE TABLE IF NOT EXISTS stream_positions (shard INTEGER PRIMARY KEY, next_offset INTEGER NOT NULL);
"""


def connect(path: Path) -> sqlite3.Connection:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path, timeout=30.0, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")  # the stream is the durable copy; stores replay
    conn.execute("PRAGMA busy_timeout=30000")
    # Deleted rows (an erasure, a purge) are overwritten on disk, not left in free pages.
    conn.execute("PRAGMA secure_delete=ON")
    return conn


WRITER_CACHE_KIB = 65_536
CHECKPOINT_INTERVAL_S = 1.0


class SqliteDatabase:
    """One database file: a writer connection (guarded by a lock) and a reader per thread."""

    def __init__(self, path: Path, schema: str, wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES) -> None:
        self.path = path
        self._writer = connect(path)
        self._writer.executescript(POSITIONS_SCHEMA + schema)
        self._wal = WalBound(path, wal_max_bytes)
        self._wal.configure(self._writer)
        # The consumer's batches touch rows all over the tables: a page cache larger than the
        # default 2 MiB keeps the upper B-tree levels and hot users' pages in memory.
        self._writer.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
        # Checkpoints on a thread of their own (started with the first write): an automatic one
        # ran inside the COMMIT that crossed the WAL threshold, on the consumer's thread. The
        # writer still truncates a WAL past wal_max_bytes after its commit (WalBound).
        self._writer.execute("PRAGMA wal_autocheckpoint=0")
        self._checkpoints: threading.Thread | None = None
        self._closing = threading.Event()
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

    def _start_checkpoints(self) -> None:
        self._checkpoints = threading.Thread(
            target=self._checkpoint_loop, name=f"checkpoint-{self.path.name}", daemon=True
        )
        self._checkpoints.start()

    def _checkpoint_loop(self) -> None:
        """PASSIVE never waits for the writer or readers: it copies what it can; the rest waits
        for the next round."""
        conn = connect(self.path)
        try:
            while not self._closing.wait(CHECKPOINT_INTERVAL_S):
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
                except sqlite3.Error:  # busy or locked now
                    continue
        finally:
            conn.close()

    def reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = connect(self.path)
            self._local.conn = conn
            self._readers.append(conn)
        return conn

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock:
            if self._checkpoints is None:
                self._start_checkpoints()
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            self._wal.enforce(conn)

    def truncate_wal(self) -> bool:
        """Copy the WAL into the database and empty it (after an erasure: no old page images
        stay in it); False when readers kept it busy."""
        with self._write_lock:
            return not self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]

    def rewrite(self) -> bool:
        """Rebuild the file from its live rows (VACUUM), then copy it out of the WAL and empty
        that (after an erasure); False when readers kept the WAL busy.

        secure_delete overwrites a row where it lies when it is deleted, but a B-tree rebalance
        (a page split as rows arrive, a merge as the trim deletes) moves cells to other offsets
        and pages and leaves the old bytes in the pages' unallocated space: an erased user's rows
        survived there. VACUUM writes every page afresh, and the file shrinks to the live rows.
        It reads and writes the whole file, under the write lock (writers wait; readers do not).
        """
        with self._write_lock:
            self._writer.execute("VACUUM")
            return not self._writer.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]

    def scrub(self, removed: bool) -> None:
        """After an erasure: rebuild the file when rows were removed (see :meth:`rewrite`),
        otherwise only empty the WAL."""
        if removed:
            self.rewrite()
        else:
            self.truncate_wal()

    def positions(self) -> dict[int, int]:
        rows = self.reader().execute("SELECT shard, next_offset FROM stream_positions").fetchall()
        return {int(s): int(o) for s, o in rows}

    def close(self) -> None:
        if self._closing.is_set():
            return  # closed already (closing twice is harmless, as for a connection)
        self._closing.set()
        if self._checkpoints is not None:
            self._checkpoints.join(timeout=30)
            self._writer.execute("PRAGMA wal_checkpoint(PASSIVE)")
        for conn in self._readers:
            conn.close()
        self._writer.close()


def unapplied(conn: sqlite3.Connection, records: Sequence[StreamRecord]) -> list[StreamRecord]:
    """The records at or past the stored position of their shard (inside the write transaction)."""
    stored = dict(conn.execute("SELECT shard, next_offset FROM stream_positions").fetchall())
    return [r for r in records if r.offset >= stored.get(r.shard, 0)]


def store_positions(conn: sqlite3.Connection, next_offsets: Mapping[int, int]) -> None:
    conn.executemany(
        "INSERT INTO stream_positions VALUES (?, ?) ON CONFLICT(shard) DO UPDATE"
        " SET next_offset = MAX(next_offset, excluded.next_offset)",
        list(next_offsets.items()),
    )


def new_event_ids(
    conn: sqlite3.Connection, records: Sequence[StreamRecord], expires_at: float
) -> list[StreamRecord]:
    """Drop records whose event id was applied before (a client's retry); remember the rest."""
    # The ids travel as one JSON array that SQLite unpacks itself (json_each): binding them one
    # row at a time from Python cost more than the lookups and inserts.
    ids = orjson.dumps([r.event.event_id for r in records]).decode()
    known = {
        row[0]
        for row in conn.execute(
            "SELECT event_id FROM seen_events WHERE event_id IN (SELECT value FROM json_each(?))",
            (ids,),
        )
    }
    fresh: list[StreamRecord] = []
    for record in records:
        event_id = record.event.event_id
        if event_id not in known:
            known.add(event_id)  # a second copy within the batch is a duplicate too
            fresh.append(record)
    new_ids = orjson.dumps(sorted(r.event.event_id for r in fresh)).decode()
    conn.execute(
        "INSERT OR IGNORE INTO seen_events SELECT value, ? FROM json_each(?)", (expires_at, new_ids)
    )
    return fresh


def purge_seen_events(conn: sqlite3.Connection, now: float, max_rows: int) -> int:
    """Forget up to `max_rows` event ids whose retry window has passed."""
    return int(
        conn.execute(
            "DELETE FROM seen_events WHERE event_id IN (SELECT event_id FROM seen_events"
            " WHERE expires_at <= ? LIMIT ?)",
            (now, max_rows),
        ).rowcount
    )


SEEN_EVENTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen_events (event_id TEXT PRIMARY KEY, expires_at REAL NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS seen_events_expiry ON seen_events (expires_at);
"""


ALIASES_SCHEMA = """
CREATE TABLE IF NOT EXISTS aliases (anonymous_id TEXT PRIMARY KEY, user_id TEXT NOT NULL)
    WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS aliases_user ON aliases (user_id);
"""


def lookup_aliases(conn: sqlite3.Connection, ids: set[str]) -> dict[str, str]:
    """The stored aliases of those of ``ids`` that are aliased anonymous ids."""
    rows = conn.execute(
        "SELECT anonymous_id, user_id FROM aliases"
        " WHERE anonymous_id IN (SELECT value FROM json_each(?))",
        (orjson.dumps(sorted(ids)).decode(),),
    )
    return {str(a): str(u) for a, u in rows}


def store_alias(conn: sqlite3.Connection, anonymous_id: str, user_id: str) -> None:
    conn.execute(
        "INSERT INTO aliases VALUES (?, ?) ON CONFLICT (anonymous_id)"
        " DO UPDATE SET user_id = excluded.user_id",
        (anonymous_id, user_id),
    )


def aliases_of(conn: sqlite3.Connection, user_id: str) -> list[str]:
    rows = conn.execute(
        "SELECT anonymous_id FROM aliases WHERE user_id = ? ORDER BY anonymous_id", (user_id,)
    )
    return [str(r[0]) for r in rows]


def forget_aliases(conn: sqlite3.Connection, user_id: str) -> int:
    """Drop the aliases of the user and any alias of an id the user is (an erasure)."""
    sql = "DELETE FROM aliases WHERE user_id = ? OR anonymous_id = ?"
    return int(conn.execute(sql, (user_id, user_id)).rowcount)
