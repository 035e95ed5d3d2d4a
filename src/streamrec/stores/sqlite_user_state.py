"""The embedded real-time state of the recommender: each user's (and session's) last N events and
per-item activity in one-minute buckets, in SQLite.

Ordering within a user uses the stream offset: one user's events all live on one shard, so offsets
order them as they were accepted.
"""

from __future__ import annotations

import sqlite3
import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from pathlib import Path

from streamrec.stores.base import UserEvent
from streamrec.stores.sqlite_common import (
    SEEN_EVENTS_SCHEMA,
    SqliteDatabase,
    new_event_ids,
    store_positions,
    unapplied,
)
from streamrec.stream.base import StreamRecord

BUCKET_S = 60
TRIM_INTERVAL_S = 30.0
TRIM_MAX_KEYS = 50_000
SEEN_EVENT_TTL_S = 7 * 86400.0

_SCHEMA = (
    SEEN_EVENTS_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS user_events (
    key TEXT NOT NULL, seq INTEGER NOT NULL, item_id TEXT NOT NULL, event_type TEXT NOT NULL,
    ts REAL NOT NULL, value REAL, PRIMARY KEY (key, seq)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS item_buckets (
    item_id TEXT NOT NULL, bucket INTEGER NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (item_id, bucket)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS item_buckets_time ON item_buckets (bucket);
"""
)


def session_key(session_id: str) -> str:
    return f"session:{session_id}"


def user_event_rows(
    records: Sequence[StreamRecord],
) -> list[tuple[str, int, str, str, float, float | None]]:
    rows = []
    for r in records:
        e = r.event
        rows.append((e.user_id, r.offset, e.item_id, e.event_type, e.timestamp, e.event_value))
        if e.session_id and e.session_id != e.user_id:
            rows.append(
                (
                    session_key(e.session_id),
                    r.offset,
                    e.item_id,
                    e.event_type,
                    e.timestamp,
                    e.event_value,
                )
            )
    return rows


def bucket_weights(
    records: Sequence[StreamRecord], weights: Mapping[str, float]
) -> dict[tuple[str, int], float]:
    """Activity per (item, minute of receipt), each event weighted by its type (unknown: 1)."""
    out: dict[tuple[str, int], float] = defaultdict(float)
    for r in records:
        e = r.event
        out[(e.item_id, int(e.received_at // BUCKET_S))] += weights.get(e.event_type, 1.0)
    return out


class SqliteUserStateStore:
    def __init__(
        self, path: Path, max_events: int = 200, event_weights: Mapping[str, float] | None = None
    ) -> None:
        self._db = SqliteDatabase(path, _SCHEMA)
        self._max_events = max_events
        self._weights = dict(event_weights or {})
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
            "DELETE FROM user_events WHERE key = ? AND seq <= (SELECT seq FROM user_events"
            " WHERE key = ? ORDER BY seq DESC LIMIT 1 OFFSET ?)",
            [(k, k, self._max_events) for k in sorted(self._untrimmed)],
        )
        self._untrimmed.clear()
        self._last_trim = time.monotonic()

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        with self._db.transaction() as conn:
            todo = unapplied(conn, records)
            newest = max((r.event.received_at for r in todo), default=0.0)
            todo = new_event_ids(conn, todo, newest + SEEN_EVENT_TTL_S)
            rows = sorted(user_event_rows(todo))  # in key order: see SqliteHistoryStore.apply
            conn.executemany("INSERT OR REPLACE INTO user_events VALUES (?, ?, ?, ?, ?, ?)", rows)
            self._untrimmed.update(row[0] for row in rows)
            if self._trim_due():
                self._trim(conn)
            conn.executemany(
                "INSERT INTO item_buckets VALUES (?, ?, ?) ON CONFLICT (item_id, bucket)"
                " DO UPDATE SET weight = weight + excluded.weight",
                [(i, b, w) for (i, b), w in bucket_weights(todo, self._weights).items()],
            )
            store_positions(conn, next_offsets)
        return len(todo)

    def recent_events(self, key: str, limit: int) -> list[UserEvent]:
        rows = (
            self._db.reader()
            .execute(
                "SELECT item_id, event_type, ts, value FROM user_events WHERE key = ?"
                " ORDER BY seq DESC LIMIT ?",
                (key, min(limit, self._max_events)),
            )
            .fetchall()
        )
        return [UserEvent(r[0], r[1], float(r[2]), r[3]) for r in reversed(rows)]

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
        with self._db.transaction() as conn:
            return int(conn.execute("DELETE FROM user_events WHERE key = ?", (user_id,)).rowcount)

    def close(self) -> None:
        if self._untrimmed:
            with self._db.transaction() as conn:
                self._trim(conn)
        self._db.close()
