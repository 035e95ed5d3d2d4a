"""Experiments, stored in ``data_dir/experiments.db`` (SQLite) and shared by every process of
the host. The request path asks :meth:`ExperimentStore.running_for`, a dictionary lookup: the
running experiments are re-read at most once per ``refresh_s``, so a change made by another
API process is seen within that time (this process's own changes at once).

At most one running experiment per route: a user is never split between two of them.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import msgspec

from streamrec.errors import NotFoundError, ValidationError
from streamrec.experiments.definition import Experiment, ExperimentSpec, check_spec
from streamrec.stores.sqlite_common import SqliteDatabase

__all__ = ["ExperimentStore"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
"""
REFRESH_S = 1.0

_decode = msgspec.json.Decoder(Experiment).decode


class ExperimentStore:
    def __init__(self, path: Path, refresh_s: float = REFRESH_S) -> None:
        self._db = SqliteDatabase(Path(path), SCHEMA)
        self._refresh_s = refresh_s
        self._running: dict[str, Experiment] = {}  # route -> experiment
        self._read_at = float("-inf")
        self._lock = threading.Lock()

    def all(self) -> list[Experiment]:
        rows = self._db.reader().execute("SELECT body FROM experiments ORDER BY name").fetchall()
        return [_decode(row[0]) for row in rows]

    def get(self, name: str) -> Experiment:
        row = (
            self._db.reader()
            .execute("SELECT body FROM experiments WHERE name = ?", (name,))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"no experiment named {name!r}")
        return _decode(row[0])

    def put(self, name: str, spec: ExperimentSpec, now: float | None = None) -> Experiment:
        """Create or replace ``name`` as a running experiment."""
        check_spec(spec)
        experiment = Experiment(
            name, spec.variants, spec.metric, list(spec.routes), "running", now or time.time()
        )
        with self._db.transaction() as conn:
            for other in self._running_in(conn):
                shared = set(other.routes) & set(experiment.routes)
                if other.name != name and shared:
                    raise ValidationError(
                        "routes",
                        f"experiment {other.name!r} already runs on {sorted(shared)[0]}: "
                        "stop it first",
                    )
            self._write(conn, experiment)
        self._read_at = float("-inf")
        return experiment

    def stop(self, name: str, promoted: str | None = None, now: float | None = None) -> Experiment:
        experiment = self.get(name)
        stopped = msgspec.structs.replace(
            experiment,
            status="stopped",
            stopped_at=experiment.stopped_at or now or time.time(),
            promoted=promoted or experiment.promoted,
        )
        with self._db.transaction() as conn:
            self._write(conn, stopped)
        self._read_at = float("-inf")
        return stopped

    def running_for(self, route: str) -> Experiment | None:
        """The running experiment on ``route`` (cached for ``refresh_s``)."""
        if time.monotonic() - self._read_at >= self._refresh_s:
            with self._lock:
                if time.monotonic() - self._read_at >= self._refresh_s:
                    running = self._running_in(None)
                    self._running = {r: e for e in running for r in e.routes}
                    self._read_at = time.monotonic()
        return self._running.get(route)

    def _running_in(self, conn: sqlite3.Connection | None) -> list[Experiment]:
        reader = conn if conn is not None else self._db.reader()
        rows = reader.execute("SELECT body FROM experiments").fetchall()
        return [e for e in (_decode(row[0]) for row in rows) if e.status == "running"]

    @staticmethod
    def _write(conn: sqlite3.Connection, experiment: Experiment) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO experiments VALUES (?, ?)",
            (experiment.name, msgspec.json.encode(experiment)),
        )

    def close(self) -> None:
        self._db.close()
