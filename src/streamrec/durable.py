"""File-system steps that make a write survive a crash, shared by the lake and the model store."""

from __future__ import annotations

import os

__all__ = ["fsync_dir"]


def fsync_dir(directory: str | os.PathLike[str]) -> None:
    """Make a rename in `directory` durable: without it a power loss may forget the new entry
    (a lake file, a model version or a campaign's pointer switch)."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
