"""PostgreSQL 15 for tests and local clusters (re-exported by :mod:`streamrec.testing.servers`).

initdb and postgres refuse to run as root, so when we are root both run as the ``postgres``
user (``Popen(user=...)``, the same as ``runuser -u postgres --`` without the extra process
between us and the server's signals), with a data directory that user owns.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path

from streamrec.testing._process import (
    ManagedProcess,
    ServerUnavailableError,
    ensure_installed,
    free_port,
    port_open,
)


def _postgres_bin() -> Path:
    """PostgreSQL 15's binaries as Debian installs them (STREAMREC_PG_BIN overrides)."""
    explicit = os.environ.get("STREAMREC_PG_BIN")
    candidates = [Path(explicit)] if explicit else []
    candidates.append(Path("/usr/lib/postgresql/15/bin"))
    candidates.extend(sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True))
    for candidate in candidates:
        if (candidate / "initdb").exists():
            return candidate
    ensure_installed("postgres", Path("/usr/lib/postgresql/15/bin/initdb"))
    return Path("/usr/lib/postgresql/15/bin")


def _traversable_by_others(path: Path) -> bool:
    """Whether a non-root user can reach `path` (every ancestor has the o+x bit)."""
    return all(p.stat().st_mode & 0o001 for p in [path, *path.parents])


class PostgresServer(ManagedProcess):
    """A PostgreSQL cluster with one database; trust auth on 127.0.0.1, no Unix socket."""

    name = "postgres"
    start_timeout_s = 60.0

    def __init__(
        self, directory: Path, port: int | None = None, database: str = "streamrec"
    ) -> None:
        super().__init__(directory)
        self.port = port or free_port()
        self.database = database
        self.user = "postgres"
        self._owner = "postgres" if os.geteuid() == 0 else None
        self._temp_data: Path | None = None
        self.data_dir = self._choose_data_dir()

    def _choose_data_dir(self) -> Path:
        """Our directory when the postgres user can reach it; else a private one under the
        system temp dir (pytest's tmp dirs are root-only), linked from ours so it is found."""
        wanted = self.directory / "pgdata"
        if self._owner is None or _traversable_by_others(self.directory.resolve()):
            return wanted
        if wanted.is_symlink():
            return wanted.resolve()
        self._temp_data = Path(tempfile.mkdtemp(prefix="streamrec-pg-"))
        wanted.symlink_to(self._temp_data)
        return self._temp_data

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _run_as(self) -> str | None:
        return self._owner

    def _prepare(self) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._owner is not None:
            entry = pwd.getpwnam(self._owner)
            os.chown(self.data_dir, entry.pw_uid, entry.pw_gid)
        self.data_dir.chmod(0o700)
        initdb = [
            str(_postgres_bin() / "initdb"),
            "-D", str(self.data_dir),
            "-U", self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",  # a test cluster: a crash during initdb just means initdb again
        ]  # fmt: skip
        done = subprocess.run(
            initdb, capture_output=True, text=True, check=False,
            user=self._owner, group=self._owner, extra_groups=[] if self._owner else None,
            cwd=self.data_dir,
        )  # fmt: skip
        if done.returncode != 0:
            raise ServerUnavailableError(f"initdb failed: {done.stdout}{done.stderr}")

    def _command(self) -> Sequence[str]:
        return [
            str(_postgres_bin() / "postgres"),
            "-D", str(self.data_dir),
            "-p", str(self.port),
            "-c", "listen_addresses=127.0.0.1",
            "-c", "unix_socket_directories=",
        ]  # fmt: skip

    def _stop_signal(self) -> signal.Signals:
        return signal.SIGINT  # "fast" shutdown: SIGTERM would wait for clients to leave

    def _ready(self) -> bool:
        import psycopg

        if not port_open(self.port):
            return False
        try:
            with psycopg.connect(
                f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres", connect_timeout=2
            ) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError:
            return False  # "the database system is starting up"

    def _after_ready(self) -> None:
        import psycopg
        from psycopg import sql

        dsn = f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"
        with psycopg.connect(dsn, autocommit=True) as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)
            ).fetchone()
            if found is None:
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(self.database)))

    def close(self) -> None:
        self.stop()
        if self._temp_data is not None:
            shutil.rmtree(self._temp_data, ignore_errors=True)
            (self.directory / "pgdata").unlink(missing_ok=True)
            self._temp_data = None
