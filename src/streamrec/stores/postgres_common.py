"""What the PostgreSQL stores share: connections, error translation, positions and event ids.

URL: any libpq URI, ``postgresql://user[:password]@host:port/db`` (``postgres://`` too); use
``?options=-csearch_path%3Dmyschema`` to keep a deployment's tables in their own schema. Each
store's tables carry its name as prefix (``history_*``, ``user_state_*``), so both can share one
database. ``apply`` is one transaction that locks the position rows of the shards it touches
(``SELECT ... FOR UPDATE``): two consumers that briefly both hold a shard during a rebalance
apply it one after the other, and the second skips what the first stored.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import psycopg

from streamrec.errors import ConfigError, StoreUnavailable
from streamrec.stream.base import StreamRecord

_CONNECT_TIMEOUT_S = 5


def positions_schema(prefix: str) -> str:
    return f"""
CREATE TABLE IF NOT EXISTS {prefix}_positions (
    shard integer PRIMARY KEY, next_offset bigint NOT NULL);
CREATE TABLE IF NOT EXISTS {prefix}_seen (
    event_id text PRIMARY KEY, expires_at double precision NOT NULL);
CREATE INDEX IF NOT EXISTS {prefix}_seen_expiry ON {prefix}_seen (expires_at);
CREATE TABLE IF NOT EXISTS {prefix}_aliases (
    anonymous_id text PRIMARY KEY, user_id text NOT NULL);
CREATE INDEX IF NOT EXISTS {prefix}_aliases_user ON {prefix}_aliases (user_id);
"""


class PostgresDatabase:
    """One connection per thread (a transaction never spans threads); a broken one is dropped
    and the next call connects again, so the store recovers by itself after a restart."""

    def __init__(
        self, url: str, key: str, prefix: str, schema: str, positions: bool = True
    ) -> None:
        """``positions=False``: a store fed by no consumer group (no positions, event ids or
        aliases tables)."""
        if not url.startswith(("postgresql://", "postgres://")):
            raise ConfigError(key, f"{url!r} is not a postgresql:// URL")
        self._url = url
        self._what = prefix.replace("_", " ")
        self.prefix = prefix
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[psycopg.Connection[Any]] = []
        with self.transaction() as conn:
            # Concurrent CREATE ... IF NOT EXISTS can still collide: create one at a time.
            conn.execute("SELECT pg_advisory_xact_lock(hashtext('streamrec-schema'))")
            conn.execute((positions_schema(prefix) if positions else "") + schema)

    def _connection(self) -> psycopg.Connection[Any]:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed:
            conn = psycopg.connect(self._url, autocommit=True, connect_timeout=_CONNECT_TIMEOUT_S)
            self._local.conn = conn
            with self._lock:
                self._all.append(conn)
        return conn

    @contextlib.contextmanager
    def _unavailable_on_error(self) -> Iterator[None]:
        try:
            yield
        except psycopg.OperationalError as exc:
            self._drop()
            raise StoreUnavailable(f"{self._what}: postgresql unavailable: {exc}") from exc

    def _drop(self) -> None:
        conn: psycopg.Connection[Any] | None = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[psycopg.Connection[Any]]:
        with self._unavailable_on_error():
            conn = self._connection()
            with conn.transaction():
                yield conn

    def fetch(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._unavailable_on_error():
            return self._connection().execute(sql, params).fetchall()

    def positions(self) -> dict[int, int]:
        rows = self.fetch(f"SELECT shard, next_offset FROM {self.prefix}_positions")
        return {int(s): int(o) for s, o in rows}

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(psycopg.Error):
                    conn.close()
            self._all.clear()


def lock_unapplied(
    conn: psycopg.Connection[Any],
    prefix: str,
    records: Sequence[StreamRecord],
    next_offsets: Mapping[int, int],
) -> list[StreamRecord]:
    """Lock the position rows of the shards involved; return the records not yet applied."""
    shards = sorted({r.shard for r in records} | set(next_offsets))
    conn.execute(
        f"INSERT INTO {prefix}_positions SELECT unnest(%s::int[]), 0 ON CONFLICT DO NOTHING",
        (shards,),
    )
    stored = dict(
        conn.execute(
            f"SELECT shard, next_offset FROM {prefix}_positions WHERE shard = ANY(%s)"
            " ORDER BY shard FOR UPDATE",
            (shards,),
        ).fetchall()
    )
    return [r for r in records if r.offset >= stored.get(r.shard, 0)]


def first_seen(
    conn: psycopg.Connection[Any], prefix: str, records: Sequence[StreamRecord], expires_at: float
) -> list[StreamRecord]:
    """Drop records whose event id was applied before (a client's retry); remember the rest."""
    ids = list(dict.fromkeys(r.event.event_id for r in records))
    if not ids:
        return []
    new_ids = {
        row[0]
        for row in conn.execute(
            f"INSERT INTO {prefix}_seen SELECT unnest(%s::text[]), %s"
            " ON CONFLICT DO NOTHING RETURNING event_id",
            (ids, expires_at),
        ).fetchall()
    }
    fresh = []
    for record in records:
        if record.event.event_id in new_ids:
            new_ids.discard(record.event.event_id)  # a second copy in the batch is a retry too
            fresh.append(record)
    return fresh


def store_positions(
    conn: psycopg.Connection[Any], prefix: str, next_offsets: Mapping[int, int]
) -> None:
    """Move positions forward only: a late, older checkpoint never moves one back."""
    if not next_offsets:
        return
    conn.execute(
        f"UPDATE {prefix}_positions p SET next_offset = GREATEST(p.next_offset, v.o)"
        " FROM unnest(%s::int[], %s::bigint[]) AS v(s, o) WHERE p.shard = v.s",
        (list(next_offsets), list(next_offsets.values())),
    )


def purge_seen(conn: psycopg.Connection[Any], prefix: str, now: float, max_rows: int) -> int:
    """Forget up to `max_rows` event ids whose retry window has passed; return how many."""
    return conn.execute(
        f"DELETE FROM {prefix}_seen WHERE ctid = ANY(ARRAY(SELECT ctid FROM {prefix}_seen"
        " WHERE expires_at <= %s LIMIT %s))",
        (now, max_rows),
    ).rowcount


def lookup_aliases(conn: psycopg.Connection[Any], prefix: str, ids: set[str]) -> dict[str, str]:
    """The stored aliases (streamrec.aliases) of those of ``ids`` that are anonymous ids."""
    rows = conn.execute(
        f"SELECT anonymous_id, user_id FROM {prefix}_aliases WHERE anonymous_id = ANY(%s)",
        (sorted(ids),),
    ).fetchall()
    return {str(a): str(u) for a, u in rows}


def store_alias(
    conn: psycopg.Connection[Any], prefix: str, anonymous_id: str, user_id: str
) -> None:
    conn.execute(
        f"INSERT INTO {prefix}_aliases VALUES (%s, %s) ON CONFLICT (anonymous_id)"
        " DO UPDATE SET user_id = excluded.user_id",
        (anonymous_id, user_id),
    )


def aliases_of(db: PostgresDatabase, user_id: str) -> list[str]:
    rows = db.fetch(
        f"SELECT anonymous_id FROM {db.prefix}_aliases WHERE user_id = %s ORDER BY anonymous_id",
        (user_id,),
    )
    return [str(r[0]) for r in rows]


def forget_aliases(db: PostgresDatabase, user_id: str) -> int:
    """Drop the user's aliases and any alias of an id the user is (an erasure)."""
    with db.transaction() as conn:
        sql = f"DELETE FROM {db.prefix}_aliases WHERE user_id = %s OR anonymous_id = %s"
        return int(conn.execute(sql, (user_id, user_id)).rowcount)
