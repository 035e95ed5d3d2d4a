"""The embedded real-time state of the recommender: each user's (and session's) last N events,
every item of an excluded type (``exclude_seen_event_types``) they ever had, and per-item activity
in one-minute buckets, in SQLite.

A user's events are ordered by their own timestamp, ties by stream offset (one user's events all
live on one shard, so offsets order them as accepted; see :func:`event_seq` for sessions spanning
shards): "the last N events" are the N newest by event time even when a bulk import delivers a
user's history out of time order. Expired event-id marks and activity buckets older than 30 days
are deleted by :meth:`purge_expired`.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from streamrec.aliases import apply_in_order
from streamrec.sqlite_wal import DEFAULT_WAL_MAX_BYTES
from streamrec.stores.base import ErasureMark, UserEvent
from streamrec.stores.purge import ITEM_BUCKET_RETENTION_S, purge_in_chunks
from streamrec.stores.sqlite_common import (
    ALIASES_SCHEMA,
    SEEN_EVENTS_SCHEMA,
    SqliteDatabase,
    aliases_of,
    forget_aliases,
    lookup_aliases,
    new_event_ids,
    purge_seen_events,
    store_alias,
    store_positions,
    unapplied,
)
from streamrec.stores.user_states import UserStates
from streamrec.stream.base import StreamRecord

BUCKET_S = 60
_SEPARATOR = "\x1f"  # char(31), the unit separator: joins a key's excluded item ids
TRIM_INTERVAL_S = 30.0
TRIM_MAX_KEYS = 50_000
SEEN_EVENT_TTL_S = 7 * 86400.0

_SCHEMA = (
    SEEN_EVENTS_SCHEMA
    + ALIASES_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS user_events (
    key TEXT NOT NULL, seq INTEGER NOT NULL, item_id TEXT NOT NULL, event_type TEXT NOT NULL,
    ts REAL NOT NULL, value REAL, PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS excluded_items (
    key TEXT NOT NULL, item_id TEXT NOT NULL, PRIMARY KEY (key, item_id)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_buckets (
    item_id TEXT NOT NULL, bucket INTEGER NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (item_id, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_buckets_time ON item_buckets (bucket);
CREATE TABLE IF NOT EXISTS erasure_marks (
    mark_id INTEGER PRIMARY KEY AUTOINCREMENT, shard INTEGER NOT NULL, upto INTEGER NOT NULL,
    digest TEXT NOT NULL, recorded_at REAL NOT NULL
);
"""
)


# Rows are ordered by seq = offset * MAX_SHARDS + shard. One user's events share a shard, so this
# orders them as accepted; a session may span users on several shards, and two shards may hand out
# the same offset: the shard in the key keeps their rows apart.
MAX_SHARDS = 4096


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def event_seq(shard: int, offset: int) -> int:
    """A row's order key, unique across shards."""
    return offset * MAX_SHARDS + shard


def user_event_rows(
    records: Sequence[StreamRecord],
) -> list[tuple[str, int, str, str, float, float | None]]:
    rows = []
    for r in records:
        e = r.event
        seq = event_seq(r.shard, r.offset)
        rows.append((e.user_id, seq, e.item_id, e.event_type, e.timestamp, e.event_value))
        if e.session_id and e.session_id != e.user_id:
            rows.append(
                (
                    session_key(e.session_id),
                    seq,
                    e.item_id,
                    e.event_type,
                    e.timestamp,
                    e.event_value,
                )
            )
    return rows


def excluded_item_rows(
    event_rows: Sequence[tuple[str, int, str, str, float, float | None]],
    excluded_types: frozenset[str],
) -> list[tuple[str, str]]:
    """The distinct (key, item) pairs of the rows whose event type is excluded from serving."""
    return list(dict.fromkeys((row[0], row[2]) for row in event_rows if row[3] in excluded_types))


def bucket_weights(
    records: Sequence[StreamRecord], weights: Mapping[str, float]
) -> dict[tuple[str, int], float]:
    """Activity per (item, minute of receipt), each event weighted by its type (unknown: 1)."""
    out: dict[tuple[str, int], float] = defaultdict(float)
    for r in records:
        e = r.event
        out[(e.item_id, int(e.received_at // BUCKET_S))] += weights.get(e.event_type, 1.0)
    return out


# states_of: every event of each wanted key, with the key's position in the list. Cutting each key
# to its newest N (a window function) or ordering the rows here took longer than this whole read;
# UserStates.of_rows does both on the columns.
STATES_EVENTS_SQL = """
WITH wanted(pos, k) AS (SELECT key, value FROM json_each(?1))
SELECT pos, item_id, event_type, ts, value, seq FROM wanted w JOIN user_events e ON e.key = w.k
"""
STATES_EXCLUDED_SQL = """
WITH wanted(pos, k) AS (SELECT key, value FROM json_each(?1))
SELECT w.pos, x.item_id FROM wanted w JOIN excluded_items x ON x.key = w.k
"""


class SqliteUserStateStore:
    def __init__(
        self,
        path: Path,
        max_events: int = 200,
        event_weights: Mapping[str, float] | None = None,
        excluded_types: Sequence[str] = (),
        wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES,
    ) -> None:
        self._db = SqliteDatabase(path, _SCHEMA, wal_max_bytes)
        self._max_events = max_events
        self._weights = dict(event_weights or {})
        self._excluded_types = frozenset(excluded_types)
        self._untrimmed: set[str] = set()
        self._last_trim = time.monotonic()

    def _trim_due(self) -> bool:
        """Trim in bulk, not per batch: one DELETE per key and batch made the consumer 2x slower.
        Reads apply the bound themselves, so a key may hold a few extra rows meanwhile."""
        return (
            len(self._untrimmed) >= TRIM_MAX_KEYS
            or time.monotonic() - self._last_trim >= TRIM_INTERVAL_S
        )

    def _trim(self, conn: sqlite3.Connection) -> None:
        conn.executemany(
            "DELETE FROM user_events WHERE key = ? AND (ts, seq) <= (SELECT ts, seq"
            " FROM user_events WHERE key = ? ORDER BY ts DESC, seq DESC LIMIT 1 OFFSET ?)",
            [(k, k, self._max_events) for k in sorted(self._untrimmed)],
        )
        self._untrimmed.clear()
        self._last_trim = time.monotonic()

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        """Events and aliases in stream order (see :func:`streamrec.aliases.apply_in_order`)."""
        with self._db.transaction() as conn:
            todo = unapplied(conn, records)
            newest = max((r.event.received_at for r in todo), default=0.0)
            todo = new_event_ids(conn, todo, newest + SEEN_EVENT_TTL_S)
            apply_in_order(
                todo,
                lambda ids: lookup_aliases(conn, ids),
                lambda run: self._apply_events(conn, run),
                lambda alias: self._apply_alias(conn, alias.anonymous_id, alias.user_id),
            )
            if self._trim_due():
                self._trim(conn)
            store_positions(conn, next_offsets)
        return len(todo)

    def _apply_events(self, conn: sqlite3.Connection, todo: Sequence[StreamRecord]) -> None:
        rows = sorted(user_event_rows(todo))  # in key order: see SqliteHistoryStore.apply
        conn.executemany("INSERT OR REPLACE INTO user_events VALUES (?, ?, ?, ?, ?, ?)", rows)
        conn.executemany(
            "INSERT OR IGNORE INTO excluded_items VALUES (?, ?)",
            excluded_item_rows(rows, self._excluded_types),
        )
        self._untrimmed.update(row[0] for row in rows)
        conn.executemany(
            "INSERT INTO item_buckets VALUES (?, ?, ?) ON CONFLICT (item_id, bucket)"
            " DO UPDATE SET weight = weight + excluded.weight",
            [(i, b, w) for (i, b), w in bucket_weights(todo, self._weights).items()],
        )

    def _apply_alias(self, conn: sqlite3.Connection, anonymous_id: str, user_id: str) -> None:
        """The anonymous id's events and excluded items become the user's (seqs are unique
        across shards, so no row of the user is replaced)."""
        conn.execute(
            "UPDATE OR REPLACE user_events SET key = ? WHERE key = ?", (user_id, anonymous_id)
        )
        conn.execute(
            "INSERT OR IGNORE INTO excluded_items SELECT ?, item_id FROM excluded_items"
            " WHERE key = ?",
            (user_id, anonymous_id),
        )
        conn.execute("DELETE FROM excluded_items WHERE key = ?", (anonymous_id,))
        store_alias(conn, anonymous_id, user_id)
        self._untrimmed.add(user_id)

    def aliases_of(self, user_id: str) -> list[str]:
        return aliases_of(self._db.reader(), user_id)

    def forget_aliases(self, user_id: str) -> int:
        """Drop the user's aliases and rebuild the file (see erase_user) when there were any."""
        with self._db.transaction() as conn:
            dropped = forget_aliases(conn, user_id)
        if dropped:
            self._db.rewrite()
        return dropped

    def recent_events(self, key: str, limit: int) -> list[UserEvent]:
        rows = (
            self._db.reader()
            .execute(
                "SELECT item_id, event_type, ts, value FROM user_events WHERE key = ?"
                " ORDER BY ts DESC, seq DESC LIMIT ?",
                (key, min(limit, self._max_events)),
            )
            .fetchall()
        )
        # the columns are UserEvent's fields in order; ts is a REAL column, so a float
        return list(map(UserEvent._make, reversed(rows)))

    def excluded_items(self, key: str) -> set[str]:
        """One string from SQLite instead of a row per item: a user with 636 excluded items
        took 190 us as rows, 120 us so. An id holding the separator itself (ids may hold any
        character) makes the parts outnumber the rows: then the rows are read."""
        reader = self._db.reader()
        count, joined = reader.execute(
            "SELECT count(*), group_concat(item_id, char(31)) FROM excluded_items WHERE key = ?",
            (key,),
        ).fetchone()
        parts = joined.split(_SEPARATOR) if joined else []
        if len(parts) == count:
            return set(parts)
        rows = reader.execute("SELECT item_id FROM excluded_items WHERE key = ?", (key,))
        return {str(r[0]) for r in rows}

    def states_of(self, keys: Sequence[str], limit: int) -> UserStates:
        """Both reads of every key in one statement each (keys passed as one JSON array)."""
        wanted = json.dumps(list(keys))
        reader = self._db.reader()
        events = reader.execute(STATES_EVENTS_SQL, (wanted,)).fetchall()
        excluded = reader.execute(STATES_EXCLUDED_SQL, (wanted,)).fetchall()
        return UserStates.of_rows(keys, events, excluded, min(limit, self._max_events))

    def item_activity(self, since: float, until: float | None = None) -> dict[str, float]:
        upper = 2**62 if until is None else int(until // BUCKET_S)
        rows = (
            self._db.reader()
            .execute(
                "SELECT item_id, SUM(weight) FROM item_buckets WHERE bucket >= ? AND bucket < ?"
                " GROUP BY item_id",
                (int(since // BUCKET_S), upper),
            )
            .fetchall()
        )
        return {str(r[0]): float(r[1]) for r in rows}

    def erase_user(self, user_id: str) -> int:
        """The user's rows and the session rows of the same events (they share a seq). When any
        were there, the file is rebuilt (see SqliteDatabase.rewrite): copies of the user's rows
        that page splits and merges left in unallocated page space go with it."""
        with self._db.transaction() as conn:
            excluded = conn.execute("DELETE FROM excluded_items WHERE key = ?", (user_id,)).rowcount
            conn.execute(
                "DELETE FROM user_events WHERE key >= 'session:' AND key < 'session;'"
                " AND seq IN (SELECT seq FROM user_events WHERE key = ?)",
                (user_id,),
            )
            deleted = conn.execute("DELETE FROM user_events WHERE key = ?", (user_id,)).rowcount
        self._db.scrub(bool(deleted or excluded))
        return int(deleted)

    def record_erasure(self, shard: int, upto: int, digest: str, now: float) -> None:
        with self._db.transaction() as conn:
            conn.execute(
                "INSERT INTO erasure_marks (shard, upto, digest, recorded_at) VALUES (?, ?, ?, ?)",
                (shard, upto, digest, now),
            )

    def erasures(self, after: int = 0) -> list[ErasureMark]:
        rows = (
            self._db.reader()
            .execute(
                "SELECT mark_id, shard, upto, digest, recorded_at FROM erasure_marks"
                " WHERE mark_id > ? ORDER BY mark_id",
                (after,),
            )
            .fetchall()
        )
        return [ErasureMark(int(i), int(s), int(u), str(d), float(t)) for i, s, u, d, t in rows]

    def forget_erasures(self, older_than: float) -> int:
        with self._db.transaction() as conn:
            sql = "DELETE FROM erasure_marks WHERE recorded_at < ?"
            return int(conn.execute(sql, (older_than,)).rowcount)

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        now = time.time() if now is None else now
        oldest_bucket = int((now - ITEM_BUCKET_RETENTION_S) // BUCKET_S)
        return purge_in_chunks(lambda: self._purge_chunk(now, oldest_bucket, max_rows), max_rows)

    def _purge_chunk(self, now: float, oldest_bucket: int, max_rows: int) -> tuple[int, int]:
        with self._db.transaction() as conn:
            buckets = conn.execute(
                "DELETE FROM item_buckets WHERE (item_id, bucket) IN (SELECT item_id, bucket"
                " FROM item_buckets WHERE bucket < ? LIMIT ?)",
                (oldest_bucket, max_rows),
            ).rowcount
            return int(buckets), purge_seen_events(conn, now, max_rows)

    def close(self) -> None:
        if self._untrimmed:
            with self._db.transaction() as conn:
                self._trim(conn)
        self._db.close()
