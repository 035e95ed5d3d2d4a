"""The attribution store on PostgreSQL (``attribution_url = "postgresql://..."``): the figures of
a cluster, written by its one ``attribution`` group and read by every API host.

The same tables and rules as the embedded store (:mod:`streamrec.attribution.sqlite_store`),
prefixed ``attribution_``. A batch's transaction first locks the position rows of the shards it
reaches (``SELECT ... FOR UPDATE``, :func:`~streamrec.stores.postgres_common.lock_unapplied`):
two consumers that briefly both hold a shard during a rebalance apply it one after the other,
and the second skips what the first stored. Figures and experiment users' figures are summed in
the batch and added in one statement each, in key order, so two such transactions never wait on
each other's rows in opposite orders.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from streamrec.attribution.store import PURGE_MAX_ROWS, Figure, ShownRecommendation
from streamrec.stores.postgres_common import (
    PostgresDatabase,
    first_seen,
    lock_unapplied,
    purge_seen,
    store_positions,
)
from streamrec.stream.base import StreamRecord

__all__ = ["PostgresAttributionStore", "PostgresAttributionTx"]

PREFIX = "attribution"

SCHEMA = """
CREATE TABLE IF NOT EXISTS attribution_served (
    rec_id text PRIMARY KEY, campaign text NOT NULL, experiment text, variant text,
    user_key text, served_at double precision NOT NULL);
CREATE INDEX IF NOT EXISTS attribution_served_time ON attribution_served (served_at);
CREATE INDEX IF NOT EXISTS attribution_served_user ON attribution_served (user_key);
CREATE TABLE IF NOT EXISTS attribution_shown (
    user_key text NOT NULL, item_id text NOT NULL, rec_id text NOT NULL,
    served_at double precision NOT NULL, PRIMARY KEY (user_key, item_id));
CREATE INDEX IF NOT EXISTS attribution_shown_time ON attribution_shown (served_at);
CREATE TABLE IF NOT EXISTS attribution_parked (
    event_id text PRIMARY KEY, user_key text, session_key text, item_id text NOT NULL,
    rec_id text, event_type text NOT NULL, value double precision,
    received_at double precision NOT NULL);
CREATE INDEX IF NOT EXISTS attribution_parked_time ON attribution_parked (received_at);
CREATE INDEX IF NOT EXISTS attribution_parked_rec ON attribution_parked (rec_id);
CREATE INDEX IF NOT EXISTS attribution_parked_user ON attribution_parked (user_key);
CREATE INDEX IF NOT EXISTS attribution_parked_session ON attribution_parked (session_key);
CREATE TABLE IF NOT EXISTS attribution_exposures (
    experiment text NOT NULL, variant text NOT NULL, user_key text NOT NULL, metric text NOT NULL,
    value double precision NOT NULL, PRIMARY KEY (experiment, variant, user_key, metric));
CREATE INDEX IF NOT EXISTS attribution_exposures_user ON attribution_exposures (user_key);
CREATE TABLE IF NOT EXISTS attribution_figures (
    minute bigint NOT NULL, campaign text NOT NULL, metric text NOT NULL,
    value double precision NOT NULL, PRIMARY KEY (minute, campaign, metric));
"""

_SERVED = "rec_id, campaign, experiment, variant, served_at, user_key"

# The recommendation and what it showed, in one round trip.
_SERVE = """
WITH served AS (
    INSERT INTO attribution_served VALUES (%(rec)s, %(campaign)s, %(experiment)s, %(variant)s,
        %(key)s, %(at)s)
    ON CONFLICT (rec_id) DO UPDATE SET campaign = excluded.campaign,
        experiment = excluded.experiment, variant = excluded.variant,
        user_key = excluded.user_key, served_at = excluded.served_at)
INSERT INTO attribution_shown
SELECT k, i, %(rec)s, %(at)s FROM unnest(%(keys)s::text[]) AS k, unnest(%(items)s::text[]) AS i
ON CONFLICT (user_key, item_id) DO UPDATE SET rec_id = excluded.rec_id,
    served_at = excluded.served_at
"""

_LAST_SHOWING = f"""
SELECT {", ".join("s." + c for c in _SERVED.split(", "))} FROM attribution_shown h
JOIN attribution_served s ON s.rec_id = h.rec_id
WHERE h.user_key = ANY(%s) AND h.item_id = %s ORDER BY h.served_at DESC LIMIT 1
"""

_UNPARK = """
DELETE FROM attribution_parked WHERE received_at >= %(since)s AND received_at <= %(until)s
AND (rec_id = %(rec)s OR (rec_id IS NULL AND (user_key = ANY(%(keys)s)
     OR session_key = ANY(%(keys)s)) AND item_id = ANY(%(items)s)))
RETURNING event_id, event_type, item_id, value, received_at, user_key
"""

_ADD_FIGURES = """
INSERT INTO attribution_figures
SELECT * FROM unnest(%s::bigint[], %s::text[], %s::text[], %s::float8[])
ON CONFLICT (minute, campaign, metric) DO UPDATE
SET value = attribution_figures.value + excluded.value
"""

_ADD_EXPOSURES = """
INSERT INTO attribution_exposures
SELECT * FROM unnest(%s::text[], %s::text[], %s::text[], %s::text[], %s::float8[])
ON CONFLICT (experiment, variant, user_key, metric) DO UPDATE
SET value = attribution_exposures.value + excluded.value
"""


class PostgresAttributionTx:
    """The write transaction of one batch: lookups see what the batch itself served."""

    def __init__(self, conn: psycopg.Connection[Any], reached: Mapping[int, int]) -> None:
        self._conn = conn
        self._reached = reached
        self._figures: dict[tuple[int, str, str], float] = {}
        self._exposures: dict[tuple[str, str, str, str], float] = {}

    def fresh(self, records: Sequence[StreamRecord], expires_at: float) -> list[StreamRecord]:
        todo = lock_unapplied(self._conn, PREFIX, records, self._reached)
        return first_seen(self._conn, PREFIX, todo, expires_at)

    def served(
        self,
        rec_id: str,
        campaign: str,
        variant: tuple[str, str] | None,
        user_keys: Sequence[str],
        items: Sequence[str],
        served_at: float,
    ) -> None:
        experiment, name = variant if variant else (None, None)
        params = {
            "rec": rec_id,
            "campaign": campaign,
            "experiment": experiment,
            "variant": name,
            "key": user_keys[0] if user_keys else None,
            "at": served_at,
            "keys": list(user_keys),
            "items": list(dict.fromkeys(items)),
        }
        self._conn.execute(_SERVE, params)

    def by_id(self, rec_id: str) -> ShownRecommendation | None:
        sql = f"SELECT {_SERVED} FROM attribution_served WHERE rec_id = %s"
        row = self._conn.execute(sql, (rec_id,)).fetchone()
        return None if row is None else ShownRecommendation(row)

    def last_showing(self, user_keys: Sequence[str], item_id: str) -> ShownRecommendation | None:
        row = self._conn.execute(_LAST_SHOWING, (list(user_keys), item_id)).fetchone()
        return None if row is None else ShownRecommendation(row)

    def park(
        self,
        event_id: str,
        keys: Sequence[str | None],
        item_id: str,
        rec_id: str | None,
        event_type: str,
        value: float | None,
        at: float,
    ) -> None:
        self._conn.execute(
            "INSERT INTO attribution_parked VALUES (%s, %s, %s, %s, %s, %s, %s, %s)"
            " ON CONFLICT (event_id) DO NOTHING",
            (event_id, keys[0], keys[1], item_id, rec_id, event_type, value, at),
        )

    def unpark(
        self, rec_id: str, keys: Sequence[str], items: Sequence[str], since: float, until: float
    ) -> list[tuple[str, str, float | None, float, str | None]]:
        params = {
            "since": since,
            "until": until,
            "rec": rec_id,
            "keys": list(keys),
            "items": list(items),
        }
        rows = self._conn.execute(_UNPARK, params).fetchall()
        rows.sort(key=lambda r: (r[4], r[0]))  # stream order, as the embedded store answers
        return [(str(r[1]), str(r[2]), r[3], float(r[4]), r[5]) for r in rows]

    def count(self, at: float, campaign: str, metric: str, value: float = 1.0) -> None:
        key = (int(at // 60), campaign, metric)
        self._figures[key] = self._figures.get(key, 0.0) + value

    def expose(self, variant: tuple[str, str], user_key: str, metric: str, value: float) -> None:
        """Added when the batch ends, as the figures (nothing in a batch reads them back)."""
        key = (*variant, user_key, metric)
        self._exposures[key] = self._exposures.get(key, 0.0) + value

    def finish(self) -> None:
        _add_sums(self._conn, _ADD_FIGURES, self._figures)
        _add_sums(self._conn, _ADD_EXPOSURES, self._exposures)
        store_positions(self._conn, PREFIX, self._reached)


def _add_sums(conn: psycopg.Connection[Any], sql: str, sums: Mapping[Any, float]) -> None:
    """One upsert of every (key..., value) row, in key order."""
    if sums:
        keys = sorted(sums)
        columns = [list(col) for col in zip(*keys, strict=True)]
        conn.execute(sql, (*columns, [sums[key] for key in keys]))


class PostgresAttributionStore:
    def __init__(self, url: str) -> None:
        self._db = PostgresDatabase(url, "attribution_url", PREFIX, SCHEMA)

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    @contextmanager
    def batch(self, reached: Mapping[int, int]) -> Iterator[PostgresAttributionTx]:
        with self._db.transaction() as conn:
            lock_unapplied(conn, PREFIX, [], reached)  # a rebalance's other holder waits here
            tx = PostgresAttributionTx(conn, reached)
            yield tx
            tx.finish()

    def purge(self, before: float, parked_before: float | None = None) -> int:
        with self._db.transaction() as conn:
            removed = 0
            for table in ("attribution_shown", "attribution_served"):
                sql = f"DELETE FROM {table} WHERE served_at < %s"
                removed += conn.execute(sql, (before,)).rowcount
            removed += purge_seen(conn, PREFIX, before, PURGE_MAX_ROWS)
            if parked_before is not None:
                sql = "DELETE FROM attribution_parked WHERE received_at < %s"
                removed += conn.execute(sql, (parked_before,)).rowcount
        return removed

    def latest_served(self) -> float | None:
        row = self._db.fetch("SELECT MAX(served_at) FROM attribution_served")[0]
        return None if row[0] is None else float(row[0])

    def forget_users(self, digests: Sequence[str]) -> int:
        if not digests:
            return 0
        keys = list(digests)
        with self._db.transaction() as conn:
            shown = conn.execute("DELETE FROM attribution_shown WHERE user_key = ANY(%s)", (keys,))
            served = conn.execute(
                "UPDATE attribution_served SET user_key = NULL WHERE user_key = ANY(%s)", (keys,)
            )
            exposed = conn.execute(
                "DELETE FROM attribution_exposures WHERE user_key = ANY(%s)", (keys,)
            )
            return int(shown.rowcount + served.rowcount + exposed.rowcount)

    def figures(self, first_minute: int, end_minute: int, campaign: str | None) -> list[Figure]:
        sql = (
            "SELECT minute, campaign, metric, value FROM attribution_figures"
            " WHERE minute >= %s AND minute < %s"
        )
        params: list[object] = [first_minute, end_minute]
        if campaign is not None:
            sql += " AND campaign = %s"
            params.append(campaign)
        rows = self._db.fetch(sql + " ORDER BY minute, campaign", params)
        return [Figure((int(m), str(c), str(k), float(v))) for m, c, k, v in rows]

    def per_user(self, experiment: str) -> list[tuple[str, str, str, float]]:
        rows = self._db.fetch(
            "SELECT variant, user_key, metric, value FROM attribution_exposures"
            " WHERE experiment = %s",
            (experiment,),
        )
        return [(str(v), str(u), str(m), float(x)) for v, u, m, x in rows]

    def totals(self) -> list[tuple[str, str, float]]:
        rows = self._db.fetch(
            "SELECT campaign, metric, SUM(value) FROM attribution_figures GROUP BY campaign, metric"
        )
        return [(str(c), str(m), float(v)) for c, m, v in rows]

    def close(self) -> None:
        self._db.close()
