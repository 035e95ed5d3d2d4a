"""What the SQLite stores share: connections per thread, and the stream positions table."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

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


class SqliteDatabase:
    """One database file: a writer connection (guarded by a lock) and a reader per thread."""

    def __init__(self, path: Path, schema: str, wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES) -> None:
        self.path = path
        self._writer = connect(path)
        self._writer.executescript(POSITIONS_SCHEMA + schema)
        self._wal = WalBound(path, wal_max_bytes)
        self._wal.configure(self._writer)
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[sqlite3.Connection] = []

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

    def positions(self) -> dict[int, int]:
        rows = self.reader().execute("SELECT shard, next_offset FROM stream_positions").fetchall()
        return {int(s): int(o) for s, o in rows}

    def close(self) -> None:
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
    fresh: list[StreamRecord] = []
    seen_in_batch: set[str] = set()
    ids = [r.event.event_id for r in records]
    known: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        marks = ",".join("?" * len(chunk))
        known.update(
            row[0]
            for row in conn.execute(
                f"SELECT event_id FROM seen_events WHERE event_id IN ({marks})", chunk
            )
        )
    for record in records:
        event_id = record.event.event_id
        if event_id in known or event_id in seen_in_batch:
            continue
        seen_in_batch.add(event_id)
        fresh.append(record)
    conn.executemany(
        "INSERT OR IGNORE INTO seen_events VALUES (?, ?)", [(i, expires_at) for i in seen_in_batch]
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
