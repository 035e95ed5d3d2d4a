"""Process locks in data_dir: one running consumer per group on the embedded backend, and a way for
``streamrec import`` to know whether a server is consuming (the lock is held) or it must consume."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO


class GroupLock:
    def __init__(self, data_dir: Path, group: str) -> None:
        self.path = Path(data_dir) / "locks" / f"consumer-{group}.lock"
        self._fh: IO[str] | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh = self.path.open("a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            fcntl.flock(self._fh, fcntl.LOCK_UN)
            self._fh.close()
            self._fh = None
