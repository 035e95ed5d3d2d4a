"""Experiment definitions on PostgreSQL (``experiments_url = "postgresql://..."``), shared by
every API host of a cluster. A write locks the table against other writes (reads go on) for its
transaction, so two hosts starting experiments on the same route at once cannot both succeed.
"""

from __future__ import annotations

from streamrec.experiments.store import Check
from streamrec.stores.postgres_common import PostgresDatabase

__all__ = ["PostgresExperimentTable"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (name text PRIMARY KEY, body bytea NOT NULL);
"""


class PostgresExperimentTable:
    def __init__(self, url: str) -> None:
        self._db = PostgresDatabase(url, "experiments_url", "experiments", SCHEMA, positions=False)

    def bodies(self) -> list[bytes]:
        rows = self._db.fetch("SELECT body FROM experiments ORDER BY name")
        return [bytes(row[0]) for row in rows]

    def body(self, name: str) -> bytes | None:
        rows = self._db.fetch("SELECT body FROM experiments WHERE name = %s", (name,))
        return bytes(rows[0][0]) if rows else None

    def write(self, name: str, body: bytes, check: Check) -> None:
        with self._db.transaction() as conn:
            conn.execute("LOCK TABLE experiments IN SHARE ROW EXCLUSIVE MODE")
            check([bytes(r[0]) for r in conn.execute("SELECT body FROM experiments").fetchall()])
            conn.execute(
                "INSERT INTO experiments VALUES (%s, %s)"
                " ON CONFLICT (name) DO UPDATE SET body = excluded.body",
                (name, body),
            )

    def close(self) -> None:
        self._db.close()
