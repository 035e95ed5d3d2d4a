"""The history store on PostgreSQL: one row per (user, item, event type) and an expiry index.

The same table and rules as the embedded store (see ``sqlite_history``): the TTL counts from
receipt, reads filter expired rows, :meth:`purge_expired` deletes them in bounded chunks. The
primary key (user, item, type) serves the per-user reads; ``history_expiry`` serves the purge.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import psycopg

from streamrec.aliases import Alias, apply_in_order
from streamrec.stores.base import HistoryEntry
from streamrec.stores.postgres_common import (
    PostgresDatabase,
    aliases_of,
    first_seen,
    forget_aliases,
    lock_unapplied,
    lookup_aliases,
    purge_seen,
    store_alias,
    store_positions,
)
from streamrec.stores.purge import purge_in_chunks
from streamrec.stores.sqlite_history import aggregate
from streamrec.stream.base import StreamRecord

_SCHEMA = """
CREATE TABLE IF NOT EXISTS history (
    user_id text NOT NULL, item_id text NOT NULL, event_type text NOT NULL,
    last_seen double precision NOT NULL, count bigint NOT NULL,
    expires_at double precision NOT NULL,
    PRIMARY KEY (user_id, item_id, event_type));
CREATE INDEX IF NOT EXISTS history_expiry ON history (expires_at);
"""

# A row that expired before the newest event of the batch arrived starts counting afresh.
_UPSERT = """
INSERT INTO history
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::float8[], %s::bigint[], %s::float8[])
ON CONFLICT (user_id, item_id, event_type) DO UPDATE SET
    count = CASE WHEN history.expires_at <= excluded.expires_at - %s
                 THEN excluded.count ELSE history.count + excluded.count END,
    last_seen = GREATEST(history.last_seen, excluded.last_seen),
    expires_at = GREATEST(history.expires_at, excluded.expires_at)
"""

# An alias moves the anonymous rows to the user, merged with the user's rows of the same item
# and type as two batches of events would be: rows expired when the alias came start afresh and
# expired anonymous rows are left behind.
_MERGE = """
INSERT INTO history
SELECT %(user)s, item_id, event_type, last_seen, count, expires_at FROM history
WHERE user_id = %(anonymous)s AND expires_at > %(at)s
ON CONFLICT (user_id, item_id, event_type) DO UPDATE SET
    count = CASE WHEN history.expires_at <= %(at)s
                 THEN excluded.count ELSE history.count + excluded.count END,
    last_seen = GREATEST(history.last_seen, excluded.last_seen),
    expires_at = GREATEST(history.expires_at, excluded.expires_at)
"""

_RECENT_ANY_TYPE = """
SELECT item_id, (array_agg(event_type ORDER BY last_seen DESC))[1], MAX(last_seen), SUM(count)
FROM history WHERE user_id = %s AND expires_at > %s
GROUP BY item_id ORDER BY 3 DESC, item_id LIMIT %s
"""

_RECENT_OF_TYPE = """
SELECT item_id, event_type, last_seen, count FROM history
WHERE user_id = %s AND event_type = %s AND expires_at > %s
ORDER BY last_seen DESC, item_id LIMIT %s
"""


class PostgresHistoryStore:
    def __init__(self, url: str, history_days: float) -> None:
        self._db = PostgresDatabase(url, "history_url", "history", _SCHEMA)
        self._ttl_s = history_days * 86400.0

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    def apply(self, records: Sequence[StreamRecord], next_offsets: Mapping[int, int]) -> int:
        """Events and aliases in stream order (see :func:`streamrec.aliases.apply_in_order`)."""
        with self._db.transaction() as conn:
            todo = lock_unapplied(conn, "history", records, next_offsets)
            newest = max((r.event.received_at for r in todo), default=time.time())
            todo = first_seen(conn, "history", todo, newest + self._ttl_s)
            apply_in_order(
                todo,
                lambda ids: lookup_aliases(conn, "history", ids),
                lambda run: self._apply_events(conn, run),
                lambda alias: self._apply_alias(conn, alias),
            )
            store_positions(conn, "history", next_offsets)
        return len(todo)

    def _apply_events(self, conn: psycopg.Connection[Any], todo: Sequence[StreamRecord]) -> None:
        rows = aggregate(todo, self._ttl_s)
        if rows:
            users, items, types = (list(col) for col in zip(*rows.keys(), strict=True))
            last, count, expires = (list(col) for col in zip(*rows.values(), strict=True))
            counts = [int(c) for c in count]
            conn.execute(_UPSERT, (users, items, types, last, counts, expires, self._ttl_s))

    def _apply_alias(self, conn: psycopg.Connection[Any], alias: Alias) -> None:
        names = {"user": alias.user_id, "anonymous": alias.anonymous_id, "at": alias.at}
        conn.execute(_MERGE, names)
        conn.execute("DELETE FROM history WHERE user_id = %s", (alias.anonymous_id,))
        store_alias(conn, "history", alias.anonymous_id, alias.user_id)

    def aliases_of(self, user_id: str) -> list[str]:
        return aliases_of(self._db, user_id)

    def forget_aliases(self, user_id: str) -> int:
        return forget_aliases(self._db, user_id)

    def recent(
        self, user_id: str, limit: int, event_type: str | None = None, now: float | None = None
    ) -> list[HistoryEntry]:
        now = time.time() if now is None else now
        if event_type is None:
            rows = self._db.fetch(_RECENT_ANY_TYPE, (user_id, now, limit))
        else:
            rows = self._db.fetch(_RECENT_OF_TYPE, (user_id, event_type, now, limit))
        return [HistoryEntry(r[0], r[1], float(r[2]), int(r[3])) for r in rows]

    def erase_user(self, user_id: str) -> int:
        with self._db.transaction() as conn:
            return conn.execute("DELETE FROM history WHERE user_id = %s", (user_id,)).rowcount

    def purge_expired(self, now: float | None = None, max_rows: int = 10_000) -> int:
        now = time.time() if now is None else now
        return purge_in_chunks(lambda: self._purge_chunk(now, max_rows), max_rows)

    def _purge_chunk(self, now: float, max_rows: int) -> tuple[int, int]:
        with self._db.transaction() as conn:
            deleted = conn.execute(
                "DELETE FROM history WHERE ctid = ANY(ARRAY(SELECT ctid FROM history"
                " WHERE expires_at <= %s LIMIT %s))",
                (now, max_rows),
            ).rowcount
            return int(deleted), purge_seen(conn, "history", now, max_rows)

    def close(self) -> None:
        self._db.close()
