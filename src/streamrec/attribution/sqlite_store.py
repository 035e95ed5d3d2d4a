"""The attribution store in embedded SQLite (``data_dir/attribution.db`` by default): one
writer, shared by every process of the host. The contract is :mod:`streamrec.attribution.store`'s.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from streamrec.attribution.store import PURGE_MAX_ROWS, Figure, ShownRecommendation
from streamrec.sqlite_wal import DEFAULT_WAL_MAX_BYTES
from streamrec.stores.sqlite_common import (
    SEEN_EVENTS_SCHEMA,
    SqliteDatabase,
    new_event_ids,
    purge_seen_events,
    store_positions,
    unapplied,
)
from streamrec.stream.base import StreamRecord

__all__ = ["SqliteAttributionStore", "SqliteAttributionTx"]

SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS served (
    rec_id TEXT PRIMARY KEY, campaign TEXT NOT NULL, experiment TEXT, variant TEXT,
    user_key TEXT, served_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS served_time ON served (served_at);
CREATE TABLE IF NOT EXISTS shown (
    user_key TEXT NOT NULL, item_id TEXT NOT NULL, rec_id TEXT NOT NULL, served_at REAL NOT NULL,
    PRIMARY KEY (user_key, item_id)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS shown_time ON shown (served_at);
CREATE TABLE IF NOT EXISTS parked (
    event_id TEXT PRIMARY KEY, user_key TEXT, session_key TEXT, item_id TEXT NOT NULL,
    rec_id TEXT, event_type TEXT NOT NULL, value REAL, received_at REAL NOT NULL) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS parked_time ON parked (received_at);
CREATE TABLE IF NOT EXISTS exposures (
    experiment TEXT NOT NULL, variant TEXT NOT NULL, user_key TEXT NOT NULL, metric TEXT NOT NULL,
    value REAL NOT NULL, PRIMARY KEY (experiment, variant, user_key, metric)) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS figures (
    minute INTEGER NOT NULL, campaign TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (minute, campaign, metric)) WITHOUT ROWID;
"""
    + SEEN_EVENTS_SCHEMA
)


class SqliteAttributionTx:
    """The write transaction of one batch: lookups see what the batch itself served."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._figures: dict[tuple[int, str, str], float] = {}

    def fresh(self, records: Sequence[StreamRecord], expires_at: float) -> list[StreamRecord]:
        """The records not applied before: past the stored positions, event id not seen."""
        return new_event_ids(self._conn, unapplied(self._conn, records), expires_at)

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
        key = user_keys[0] if user_keys else None
        self._conn.execute(
            "INSERT OR REPLACE INTO served VALUES (?, ?, ?, ?, ?, ?)",
            (rec_id, campaign, experiment, name, key, served_at),
        )
        rows = [(k, item, rec_id, served_at) for k in user_keys for item in dict.fromkeys(items)]
        self._conn.executemany("INSERT OR REPLACE INTO shown VALUES (?, ?, ?, ?)", rows)

    def by_id(self, rec_id: str) -> ShownRecommendation | None:
        row = self._conn.execute(
            "SELECT rec_id, campaign, experiment, variant, served_at, user_key FROM served "
            "WHERE rec_id = ?",
            (rec_id,),
        ).fetchone()
        return None if row is None else ShownRecommendation(row)

    def last_showing(self, user_keys: Sequence[str], item_id: str) -> ShownRecommendation | None:
        """The latest recommendation that showed ``item_id`` to any of these keys."""
        marks = ",".join("?" * len(user_keys))
        row = self._conn.execute(
            "SELECT s.rec_id, s.campaign, s.experiment, s.variant, s.served_at, s.user_key "
            "FROM shown h "
            f"JOIN served s ON s.rec_id = h.rec_id WHERE h.user_key IN ({marks}) "
            "AND h.item_id = ? ORDER BY h.served_at DESC LIMIT 1",
            (*user_keys, item_id),
        ).fetchone()
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
        """Keep a conversion that found no recommendation: the record of the one it came from
        may still be on its way (written after the event, or by another process)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO parked VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (event_id, keys[0], keys[1], item_id, rec_id, event_type, value, at),
        )

    def unpark(
        self, rec_id: str, keys: Sequence[str], items: Sequence[str], since: float, until: float
    ) -> list[tuple[str, str, float | None, float, str | None]]:
        """Take the parked conversions this recommendation explains: carrying its id, or with
        no id, from one of ``keys`` on one of ``items``; received in [since, until].
        Returns (event_type, item_id, value, received_at, user_key) in stream order."""
        marks = ",".join("?" * len(keys)) or "NULL"
        item_marks = ",".join("?" * len(items)) or "NULL"
        where = (
            "received_at >= ? AND received_at <= ? AND (rec_id = ? OR (rec_id IS NULL AND "
            f"(user_key IN ({marks}) OR session_key IN ({marks})) AND item_id IN ({item_marks})))"
        )
        params = (since, until, rec_id, *keys, *keys, *items)
        rows = self._conn.execute(
            "SELECT event_id, event_type, item_id, value, received_at, user_key FROM parked "
            f"WHERE {where} ORDER BY received_at, event_id",
            params,
        ).fetchall()
        self._conn.executemany("DELETE FROM parked WHERE event_id = ?", [(r[0],) for r in rows])
        return [(str(r[1]), str(r[2]), r[3], float(r[4]), r[5]) for r in rows]

    def count(self, at: float, campaign: str, metric: str, value: float = 1.0) -> None:
        key = (int(at // 60), campaign, metric)
        self._figures[key] = self._figures.get(key, 0.0) + value

    def expose(self, variant: tuple[str, str], user_key: str, metric: str, value: float) -> None:
        """Add to one user's figure in an experiment's variant."""
        self._conn.execute(
            "INSERT INTO exposures VALUES (?, ?, ?, ?, ?) ON CONFLICT "
            "(experiment, variant, user_key, metric) DO UPDATE SET value = value + excluded.value",
            (*variant, user_key, metric, value),
        )

    def finish(self, reached: Mapping[int, int]) -> None:
        self._conn.executemany(
            "INSERT INTO figures VALUES (?, ?, ?, ?) ON CONFLICT (minute, campaign, metric) "
            "DO UPDATE SET value = value + excluded.value",
            [(*key, value) for key, value in self._figures.items()],
        )
        store_positions(self._conn, reached)


class SqliteAttributionStore:
    def __init__(self, path: Path, wal_max_bytes: int = DEFAULT_WAL_MAX_BYTES) -> None:
        self._db = SqliteDatabase(Path(path), SCHEMA, wal_max_bytes)

    def positions(self) -> dict[int, int]:
        return self._db.positions()

    @contextmanager
    def batch(self, reached: Mapping[int, int]) -> Iterator[SqliteAttributionTx]:
        """One batch's transaction; the positions ``reached`` are stored with its figures."""
        with self._db.transaction() as conn:
            tx = SqliteAttributionTx(conn)
            yield tx
            tx.finish(reached)

    def purge(self, before: float, parked_before: float | None = None) -> int:
        """Forget recommendations served before ``before`` (outside every window now) and the
        event ids that can no longer be retried into a window."""
        with self._db.transaction() as conn:
            removed = 0
            for table in ("shown", "served"):
                sql = f"DELETE FROM {table} WHERE served_at < ?"
                removed += conn.execute(sql, (before,)).rowcount
            removed += purge_seen_events(conn, before, PURGE_MAX_ROWS)
            if parked_before is not None:
                sql = "DELETE FROM parked WHERE received_at < ?"
                removed += conn.execute(sql, (parked_before,)).rowcount
        return removed

    def latest_served(self) -> float | None:
        row = self._db.reader().execute("SELECT MAX(served_at) FROM served").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def forget_users(self, digests: Sequence[str]) -> int:
        """An erasure: the users' (digest-named) showings are deleted."""
        if not digests:
            return 0
        marks = ",".join("?" * len(digests))
        with self._db.transaction() as conn:
            shown = conn.execute(f"DELETE FROM shown WHERE user_key IN ({marks})", list(digests))
            served = conn.execute(
                f"UPDATE served SET user_key = NULL WHERE user_key IN ({marks})", list(digests)
            )
            # an experiment's per-user rows: the user's figures leave the results
            exposed = conn.execute(
                f"DELETE FROM exposures WHERE user_key IN ({marks})", list(digests)
            )
            return int(shown.rowcount + served.rowcount + exposed.rowcount)

    def figures(self, first_minute: int, end_minute: int, campaign: str | None) -> list[Figure]:
        """Stored figures with minute in [first_minute, end_minute), for one campaign or all."""
        sql = "SELECT minute, campaign, metric, value FROM figures WHERE minute >= ? AND minute < ?"
        params: list[object] = [first_minute, end_minute]
        if campaign is not None:
            sql += " AND campaign = ?"
            params.append(campaign)
        rows = self._db.reader().execute(sql + " ORDER BY minute, campaign", params).fetchall()
        return [Figure(row) for row in rows]

    def per_user(self, experiment: str) -> list[tuple[str, str, str, float]]:
        """(variant, user_key, metric, value) of every user exposed in ``experiment``."""
        rows = (
            self._db.reader()
            .execute(
                "SELECT variant, user_key, metric, value FROM exposures WHERE experiment = ?",
                (experiment,),
            )
            .fetchall()
        )
        return [(str(v), str(u), str(m), float(x)) for v, u, m, x in rows]

    def totals(self) -> list[tuple[str, str, float]]:
        """(campaign, metric, total) over all time: what Prometheus exports."""
        rows = (
            self._db.reader()
            .execute("SELECT campaign, metric, SUM(value) FROM figures GROUP BY campaign, metric")
            .fetchall()
        )
        return [(str(c), str(m), float(v)) for c, m, v in rows]

    def close(self) -> None:
        self._db.close()
