"""Stopping a process's main loop from SIGTERM / SIGINT without the signal-handler deadlock.

A Python signal handler runs in the main thread between two bytecodes, possibly while that
thread is inside ``threading.Event.wait`` holding the event's internal lock. A handler that
calls ``event.set()`` then waits for that lock forever: ``streamrec serve`` was found hung on
SIGTERM with its main thread in ``Event.set`` (the handler) inside ``Event.wait``
(``Supervisor.run``), four handlers deep after four signals. The handler here hands ``set()`` to
a short-lived thread, which takes the lock once the main thread has let go of it.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType

__all__ = ["set_on_signals", "setter_of"]


def setter_of(event: threading.Event) -> Callable[[int, FrameType | None], None]:
    """A signal handler that sets ``event`` from another thread (see the module docstring)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        threading.Thread(target=event.set, name="stop-signal", daemon=True).start()

    return handler


def set_on_signals(event: threading.Event, signals: Iterable[int] = (signal.SIGTERM,)) -> None:
    """Set ``event`` when one of ``signals`` arrives (call from the main thread)."""
    handler = setter_of(event)
    for sig in signals:
        signal.signal(sig, handler)
