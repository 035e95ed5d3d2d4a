"""Prometheus metrics shared by the processes of ``streamrec serve``.

Under ``serve`` every API worker and consumer group is its own process, and each would count only
what it saw: ``/metrics``, ``/v1/status`` and the dashboard would show whichever worker answered.
prometheus_client's multiprocess mode fixes that: each process writes its counters and histograms
to memory-mapped files in one folder, and any worker's scrape sums them all. The supervisor empties
the folder (``data_dir/run/serve-PID/metrics``) at start and names it in ``PROMETHEUS_MULTIPROC_DIR`` before
it spawns the children, which read the variable when they import prometheus_client. Totals are
since the supervisor started; a restarted child's files stay, so its counts are not lost.

Single-process commands (``streamrec api``, ``consume``) leave the variable unset and count in
process, as before.
"""

from __future__ import annotations

import functools
import os
import shutil
from pathlib import Path

from prometheus_client import Counter, values

__all__ = ["ENV", "consumer_failures", "prepare_dir", "shared_dir"]

ENV = "PROMETHEUS_MULTIPROC_DIR"


def prepare_dir(path: Path) -> Path:
    """``path`` made an empty folder for this supervisor's children and named in the
    environment they inherit."""
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(parents=True)
    os.environ[ENV] = str(path)
    return path


def shared_dir() -> str | None:
    """The shared folder when this process counts in it, else None.

    prometheus_client picks its value class when first imported, so the variable alone is not
    enough: a process that imported it before the variable was set still counts in memory."""
    path = os.environ.get(ENV)
    if not path or values.ValueClass is values.MutexValue:
        return None
    return path


@functools.cache
def consumer_failures() -> Counter | None:
    """Failed consumer loop rounds by group and error, counted in the shared folder (None when
    this process does not count there; the API then exports its own runners' counts)."""
    if shared_dir() is None:
        return None
    return Counter(
        "streamrec_consumer_failures",
        "Failed consumer loop rounds (retried after a back-off), by group and error",
        ["group", "error"],
        registry=None,
    )
