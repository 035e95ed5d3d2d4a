"""streamrec.signals: a stop signal that lands while the main thread holds the event's lock."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator

import pytest

from streamrec.signals import set_on_signals, setter_of


@pytest.fixture
def usr1() -> Iterator[None]:
    before = signal.getsignal(signal.SIGUSR1)
    yield
    signal.signal(signal.SIGUSR1, before)


def test_the_handler_returns_while_the_main_thread_holds_the_events_lock() -> None:
    """Where Event.wait holds its condition's lock, a handler calling event.set() itself
    blocked forever (serve hung on SIGTERM); this one returns, and the event is set once the
    lock is let go."""
    stop = threading.Event()
    handler = setter_of(stop)
    with stop._cond:  # type: ignore[attr-defined]  # as inside Event.wait
        handler(signal.SIGTERM, None)
        assert not stop.is_set()
    assert stop.wait(5)


def test_a_signal_sets_the_event(usr1: None) -> None:
    stop = threading.Event()
    set_on_signals(stop, (signal.SIGUSR1,))
    os.kill(os.getpid(), signal.SIGUSR1)
    assert stop.wait(5)
