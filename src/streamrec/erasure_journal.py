"""Erasure jobs on disk (``data_dir/erasures.db``), so that a restart keeps their status and
resumes an unfinished one, and every API worker of ``serve`` answers the status route.

A running job holds the user id (it must erase again once the consumers have passed the erasure);
a finished one does not: the id is cleared, the file rebuilt and its WAL emptied, so no byte of it
stays (``secure_delete`` and VACUUM, as in the stores). A job is claimed by one process at a time
through ``lease_until``; a job whose lease ran out (its process died) is resumed by the next start.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from streamrec.stores.sqlite_common import connect

__all__ = ["JOURNAL_FILE", "ErasureJournal"]

JOURNAL_FILE = "erasures.db"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS erasure_jobs (
    erasure_id TEXT PRIMARY KEY, user_id TEXT, heads TEXT NOT NULL, requested_at REAL NOT NULL,
    status TEXT NOT NULL, finished_at REAL, detail TEXT NOT NULL, counts TEXT NOT NULL,
    lease_until REAL NOT NULL
);
"""

_COLUMNS = "erasure_id, requested_at, status, finished_at, detail, counts"


class ErasureJournal:
    def __init__(self, data_dir: Path) -> None:
        self._conn = connect(data_dir / JOURNAL_FILE)
        self._conn.executescript(_SCHEMA)
        self._lock = threading.Lock()

    def add(
        self, job: Mapping[str, Any], user_id: str, heads: Mapping[int, int], lease_s: float
    ) -> None:
        with self._lock:
            self._conn.execute(
                "INSERT INTO erasure_jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    job["erasure_id"], user_id, json.dumps(dict(heads)), job["requested_at"],
                    job["status"], job["finished_at"], job["detail"], json.dumps(job["counts"]),
                    time.time() + lease_s,
                ),
            )  # fmt: skip

    def update(self, job: Mapping[str, Any]) -> None:
        """Store a job's status and counts; a finished job forgets its user id for good."""
        finished = job["status"] != "running"
        with self._lock:
            self._conn.execute(
                "UPDATE erasure_jobs SET status = ?, finished_at = ?, detail = ?, counts = ?,"
                " user_id = CASE WHEN ? THEN NULL ELSE user_id END WHERE erasure_id = ?",
                (
                    job["status"], job["finished_at"], job["detail"], json.dumps(job["counts"]),
                    finished, job["erasure_id"],
                ),
            )  # fmt: skip
            if finished:
                self._conn.execute("VACUUM")
                self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()

    def get(self, erasure_id: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_COLUMNS} FROM erasure_jobs WHERE erasure_id = ?", (erasure_id,)
            ).fetchone()
        return None if row is None else _job(row)

    def claim_unfinished(self, lease_s: float) -> list[tuple[dict[str, Any], str, dict[int, int]]]:
        """The running jobs whose lease ran out, now leased to the caller: (job, user, heads)."""
        now = time.time()
        claimed = []
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS}, user_id, heads FROM erasure_jobs"
                " WHERE status = 'running' AND lease_until < ?",
                (now,),
            ).fetchall()
            for row in rows:
                taken = self._conn.execute(
                    "UPDATE erasure_jobs SET lease_until = ? WHERE erasure_id = ? AND lease_until < ?",
                    (now + lease_s, row[0], now),
                ).rowcount
                if taken:
                    heads = {int(s): int(o) for s, o in json.loads(row[7]).items()}
                    claimed.append((_job(row[:6]), str(row[6]), heads))
        return claimed

    def release(self, erasure_id: str) -> None:
        """Let the next start resume a job this process stops before it is finished."""
        with self._lock:
            self._conn.execute(
                "UPDATE erasure_jobs SET lease_until = 0 WHERE erasure_id = ?", (erasure_id,)
            )

    def close(self) -> None:
        with self._lock:
            self._conn.close()


def _job(row: tuple[Any, ...] | sqlite3.Row) -> dict[str, Any]:
    erasure_id, requested_at, status, finished_at, detail, counts = row
    return {
        "erasure_id": erasure_id,
        "requested_at": requested_at,
        "status": status,
        "finished_at": finished_at,
        "detail": detail,
        "counts": json.loads(counts),
    }
