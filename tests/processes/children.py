"""Targets for supervised children in tests (module level: the spawn start method imports them)."""

from __future__ import annotations

import signal
import sys
import threading


def wait_for_sigterm(parent_pid: int) -> None:
    """A well-behaved child: runs until SIGTERM, then exits 0."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    stop.wait()


def exit_at_once(parent_pid: int, code: int) -> None:
    """A child that dies as soon as it starts (a bad configuration, a crash on start)."""
    sys.exit(code)
