"""Experiments, stored where ``experiments_url`` says: SQLite in ``data_dir/experiments.db`` by
default (every process of the host), PostgreSQL for a cluster (every API host)
(:mod:`~streamrec.experiments.postgres_table`). Each definition is one row, its JSON body.

The request path asks :meth:`ExperimentStore.running_for`, a dictionary lookup that never waits
on the database: once the running experiments are older than ``refresh_s`` a thread re-reads them,
so a change made by another API process is seen within about that time (this process's own
changes at once). When the re-read fails (the database restarting), the last ones read stay.

At most one running experiment per route: a user is never split between two of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec

from streamrec.config import Settings
from streamrec.errors import NotFoundError, ValidationError
from streamrec.experiments.definition import Experiment, ExperimentSpec, check_spec
from streamrec.extras import require_extra
from streamrec.stores import raise_unsupported
from streamrec.stores.sqlite_common import SqliteDatabase
from streamrec.urls import scheme_of, sqlite_path

__all__ = ["ExperimentStore", "ExperimentTable", "SqliteExperimentTable", "open_experiment_store"]

log = logging.getLogger(__name__)

SCHEMA = """
CREATE TABLE IF NOT EXISTS experiments (name TEXT PRIMARY KEY, body BLOB NOT NULL) WITHOUT ROWID;
"""
REFRESH_S = 1.0

_decode = msgspec.json.Decoder(Experiment).decode

Check = Callable[[list[bytes]], None]  # sees every stored body; raises to refuse a write


class ExperimentTable(Protocol):
    """Where the definitions lie: (name, JSON body) rows."""

    def bodies(self) -> list[bytes]:
        """Every stored body, by name."""
        ...

    def body(self, name: str) -> bytes | None: ...

    def write(self, name: str, body: bytes, check: Check) -> None:
        """Store ``body`` under ``name`` after ``check`` saw every body, in one transaction
        that no other write interleaves with."""
        ...

    def close(self) -> None: ...


class SqliteExperimentTable:
    def __init__(self, path: Path) -> None:
        self._db = SqliteDatabase(Path(path), SCHEMA)

    def bodies(self) -> list[bytes]:
        rows = self._db.reader().execute("SELECT body FROM experiments ORDER BY name").fetchall()
        return [bytes(row[0]) for row in rows]

    def body(self, name: str) -> bytes | None:
        sql = "SELECT body FROM experiments WHERE name = ?"
        row = self._db.reader().execute(sql, (name,)).fetchone()
        return None if row is None else bytes(row[0])

    def write(self, name: str, body: bytes, check: Check) -> None:
        with self._db.transaction() as conn:  # BEGIN IMMEDIATE: one writer at a time
            check([bytes(r[0]) for r in conn.execute("SELECT body FROM experiments")])
            conn.execute("INSERT OR REPLACE INTO experiments VALUES (?, ?)", (name, body))

    def close(self) -> None:
        self._db.close()


class ExperimentStore:
    def __init__(self, table: ExperimentTable, refresh_s: float = REFRESH_S) -> None:
        self._table = table
        self._refresh_s = refresh_s
        self._running: dict[str, Experiment] = {}  # route -> experiment
        self._read_at = float("-inf")
        self._refreshing = threading.Lock()
        self._refresh()

    def all(self) -> list[Experiment]:
        return [_decode(body) for body in self._table.bodies()]

    def get(self, name: str) -> Experiment:
        body = self._table.body(name)
        if body is None:
            raise NotFoundError(f"no experiment named {name!r}", "name")
        return _decode(body)

    def put(self, name: str, spec: ExperimentSpec, now: float | None = None) -> Experiment:
        """Create or replace ``name`` as a running experiment."""
        check_spec(spec)
        experiment = Experiment(
            name, spec.variants, spec.metric, list(spec.routes), "running", now or time.time()
        )

        def no_route_taken(bodies: list[bytes]) -> None:
            for other in _running(bodies):
                shared = set(other.routes) & set(experiment.routes)
                if other.name != name and shared:
                    raise ValidationError(
                        "routes",
                        f"experiment {other.name!r} already runs on {sorted(shared)[0]}: "
                        "stop it first",
                    )

        self._table.write(name, msgspec.json.encode(experiment), no_route_taken)
        self._refresh()
        return experiment

    def stop(self, name: str, promoted: str | None = None, now: float | None = None) -> Experiment:
        experiment = self.get(name)
        stopped = msgspec.structs.replace(
            experiment,
            status="stopped",
            stopped_at=experiment.stopped_at or now or time.time(),
            promoted=promoted or experiment.promoted,
        )
        self._table.write(name, msgspec.json.encode(stopped), lambda _: None)
        self._refresh()
        return stopped

    def running_for(self, route: str) -> Experiment | None:
        """The running experiment on ``route``, as last read (see the module docstring)."""
        stale = time.monotonic() - self._read_at >= self._refresh_s
        if stale and self._refreshing.acquire(blocking=False):
            threading.Thread(target=self._refresh_quietly, name="experiments", daemon=True).start()
        return self._running.get(route)

    def _refresh(self) -> None:
        running = _running(self._table.bodies())
        self._running = {route: e for e in running for route in e.routes}
        self._read_at = time.monotonic()

    def _refresh_quietly(self) -> None:
        try:
            self._refresh()
        except Exception:  # serving goes on with the experiments last read; retried later
            log.warning("re-reading the running experiments failed", exc_info=True)
            self._read_at = time.monotonic()
        finally:
            self._refreshing.release()

    def close(self) -> None:
        with self._refreshing:  # no re-read left running on a closed table
            self._table.close()


def _running(bodies: list[bytes]) -> list[Experiment]:
    return [e for e in map(_decode, bodies) if e.status == "running"]


def open_experiment_store(settings: Settings) -> ExperimentStore:
    """The store ``experiments_url`` names (``sqlite:///`` or ``postgresql://``)."""
    url = settings.experiments_location
    scheme = scheme_of(url, "experiments_url")
    if scheme == "sqlite":
        return ExperimentStore(SqliteExperimentTable(sqlite_path(url, "experiments_url")))
    if scheme in ("postgresql", "postgres"):
        require_extra("postgres", "experiments_url")
        from streamrec.experiments.postgres_table import PostgresExperimentTable

        return ExperimentStore(PostgresExperimentTable(url))
    raise_unsupported("experiments_url", url, dict.fromkeys(("sqlite", "postgresql", "postgres")))
