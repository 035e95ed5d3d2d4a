"""Keeping SQLite write-ahead logs bounded under constant load.

A WAL restarts from its beginning only after a checkpoint copied all of it *and* no reader still
uses an older snapshot. With consumers polling all the time that moment rarely comes, so PASSIVE
checkpoints (and ``wal_autocheckpoint``) let the file grow without bound. Each writer therefore
looks at the WAL's size after a commit and, past ``max_bytes``, runs a TRUNCATE checkpoint: it
waits (busy timeout) for the short reads under way, copies everything and truncates the file to
zero. ``journal_size_limit`` also caps what a WAL reset leaves behind. The WAL thus stays under
``max_bytes`` plus one transaction.
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

log = logging.getLogger(__name__)

DEFAULT_WAL_MAX_BYTES = 64 << 20


class WalBound:
    """The size limit of one database file's WAL, enforced by its writer after each commit."""

    def __init__(self, path: Path, max_bytes: int = DEFAULT_WAL_MAX_BYTES) -> None:
        self._wal = Path(f"{path}-wal")
        self.max_bytes = max_bytes

    def configure(self, conn: sqlite3.Connection) -> None:
        conn.execute(f"PRAGMA journal_size_limit={int(self.max_bytes)}")

    def size(self) -> int:
        try:
            return self._wal.stat().st_size
        except FileNotFoundError:
            return 0

    def enforce(self, conn: sqlite3.Connection) -> bool:
        """Checkpoint and truncate the WAL when it is past the limit; True when it was truncated."""
        if self.size() <= self.max_bytes:
            return False
        try:
            busy = conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()[0]
        except sqlite3.OperationalError as exc:  # locked past the busy timeout: next commit retries
            log.warning("cannot truncate %s: %s", self._wal, exc)
            return False
        return not busy
