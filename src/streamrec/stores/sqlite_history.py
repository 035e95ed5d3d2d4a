"""The embedded history store: recently visited items per user in SQLite, with a time-to-live.

Rows are kept per (user, item, event type). The TTL counts from receipt, as in the AWS sample's
DynamoDB table: ``expires_at = received_at + history_days``. Reads filter expired rows (so expiry is
exact to the second); :meth:`purge_expired` deletes every expired row (and expired event-id marks),
in short transactions of at most ``max_rows`` rows, so the purge keeps pace with any arrival rate.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

from streamrec.aliases import Alias, apply_in_order
from streamrec.sqlite_wal import DEFAULT_WAL_MAX_BYTES
from streamrec.stores.base import HistoryEntry
from streamrec.stores.purge import purge_in_chunks
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
from streamrec.stream.base import StreamRecord

_SCHEMA = (
    SEEN_EVENTS_SCHEMA
    + ALIASES_SCHEMA
    + """
CREATE TABLE IF NOT EXISTS history (
    user_id TEXT NOT NULL, item_id TEXT NOT NULL, event_type TEXT NOT NULL,
    last_seen REAL NOT NULL, count INTEGER NOT NULL, expires_at REAL NOT NULL,
    PRIMARY KEY (user_id, item_id, event_type)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS history_expiry ON history (expires_at);
"""
)

# A row that expired before the new event arrived starts counting afresh (DynamoDB would have
# deleted it); `excluded.expires_at - ttl` is when the newest event of the batch was received.
_UPSERT = """
INSERT INTO history VALUES (?1, ?2, ?3, ?4, ?5, ?6)
ON CONFLICT (user_id, item_id, event_type) DO UPDATE SET
    count = CASE WHEN history.expires_at <= excluded.expires_at - ?7
                 THEN excluded.count ELSE history.count + excluded.count END,
    last_seen = MAX(history.last_seen, excluded.last_seen),
    expires_at = MAX(history.expires_at, excluded.expires_at)
"""

# An alias moves the anonymous rows to the user, merged with the user's rows of the same item and
# type as two batches of events would be: rows expired when the alias came (?3) start afresh and
# expired anonymous rows are left behind ("WHERE true": SQLite's upsert-from-SELECT syntax).
_MERGE = """
INSERT INTO history SELECT ?1, item_id, event_type, last_seen, count, expires_at FROM history
WHERE user_id = ?2 AND expires_at > ?3 AND true
ON CONFLICT (user_id, item_id, event_type) DO UPDATE SET
    count = CASE WHEN history.expires_at <= ?3
                 THEN excluded.count ELSE history.count + excluded.count END,
    last_seen = MAX(history.last_seen, excluded.last_seen),
    expires_at = MAX(history.expires_at, excluded.expires_at)
"""

Key = tuple[str, str, str]


def aggregate(records: Sequence[StreamRecord], ttl_s: float) -> dict[Key, list[float]]:
    """Fold a batch into one row per (user, item, type): [last_seen, count, expires_at]."""
    rows: dict[Key, list[float]] = {}
    for record in records:
        e = record.event
        key = (e.user_id, e.item_id, e.event_type)
        row = rows.get(key)
        expires = e.received_at + ttl_s
        if row is None:
            rows[key] = [e.timestamp, 1, expires]
        else:
            row[0] = max(row[0], e.timestamp)
            row[1] += 1
            row[2] = max(row[2], expires)
    return rows


class SqliteHistoryStore:
    def __init__(
        self, path: Path, history_days: float, wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES
    ) -> None:
        self._db = SqliteDatabase(path, _SCHEMA, wal_max_bytes)
        self._ttl_s = history_days * 86400.0

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        """Events and aliases in stream order (see :func:`streamrec.aliases.apply_in_order`)."""
        with self._db.transaction() as conn:
            todo = unapplied(conn, records)
            newest = max((r.event.received_at for r in todo), default=time.time())
            todo = new_event_ids(conn, todo, newest + self._ttl_s)
            apply_in_order(
                todo,
                lambda ids: lookup_aliases(conn, ids),
                lambda run: self._apply_events(conn, run),
                lambda alias: self._apply_alias(conn, alias),
            )
            store_positions(conn, next_offsets)
        return len(todo)

    def _apply_events(self, conn: sqlite3.Connection, todo: Sequence[StreamRecord]) -> None:
        rows = aggregate(todo, self._ttl_s)
        # Positional parameters, in key order: the upserts walk the primary key's B-tree
        # from one end to the other instead of jumping about it (fewer pages touched).
        ttl = self._ttl_s
        conn.executemany(
            _UPSERT,
            [(u, i, t, v[0], int(v[1]), v[2], ttl) for (u, i, t), v in sorted(rows.items())],
        )

    def _apply_alias(self, conn: sqlite3.Connection, alias: Alias) -> None:
        conn.execute(_MERGE, (alias.user_id, alias.anonymous_id, alias.at))
        conn.execute("DELETE FROM history WHERE user_id = ?", (alias.anonymous_id,))
        store_alias(conn, alias.anonymous_id, alias.user_id)

    def aliases_of(self, user_id: str) -> list[str]:
        return aliases_of(self._db.reader(), user_id)

    def forget_aliases(self, user_id: str) -> int:
        """Drop the user's aliases and rebuild the file (see erase_user) when there were any."""
        with self._db.transaction() as conn:
            dropped = forget_aliases(conn, user_id)
        if dropped:
            self._db.rewrite()
        return dropped

    def recent(
        self, user_id: str, limit: int, event_type: str | None = None, now: float | None = None
    ) -> list[HistoryEntry]:
        now = time.time() if now is None else now
        conn = self._db.reader()
        if event_type is None:
            # SQLite takes the bare event_type from the row holding MAX(last_seen).
            sql = (
                "SELECT item_id, event_type, MAX(last_seen), SUM(count) FROM history"
                " WHERE user_id = ? AND expires_at > ? GROUP BY item_id"
                " ORDER BY 3 DESC, item_id LIMIT ?"
            )
            rows = conn.execute(sql, (user_id, now, limit)).fetchall()
        else:
            sql = (
                "SELECT item_id, event_type, last_seen, count FROM history"
                " WHERE user_id = ? AND event_type = ? AND expires_at > ?"
                " ORDER BY last_seen DESC, item_id LIMIT ?"
            )
            rows = conn.execute(sql, (user_id, event_type, now, limit)).fetchall()
        return [HistoryEntry(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    def erase_user(self, user_id: str) -> int:
        """The user's rows; when any were there, the file is rebuilt (see
        SqliteDatabase.rewrite): page splits leave copies of rows in unallocated page space."""
        with self._db.transaction() as conn:
            deleted = conn.execute("DELETE FROM history WHERE user_id = ?", (user_id,)).rowcount
        self._db.scrub(bool(deleted))
        return int(deleted)

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        now = time.time() if now is None else now
        return purge_in_chunks(lambda: self._purge_chunk(now, max_rows), max_rows)

    def _purge_chunk(self, now: float, max_rows: int) -> tuple[int, int]:
        with self._db.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM history WHERE (user_id, item_id, event_type) IN (SELECT user_id,"
                " item_id, event_type FROM history WHERE expires_at <= ? LIMIT ?)",
                (now, max_rows),
            ).rowcount
            return int(deleted), purge_seen_events(conn, now, max_rows)

    def close(self) -> None:
        self._db.close()
