"""Start children, restart any that dies, stop them all in order.

A home-made process manager is what the issue warned against, so this one is only the restart
loop: processes are ``multiprocessing`` ones (the *spawn* start method: a child never inherits
the parent's threads, locks or database connections), the HTTP workers are uvicorn servers
sharing a socket the parent bound, as uvicorn's own ``--workers`` does. uvicorn's supervisor is
not used as is because it only knows HTTP workers, and the consumer groups need the same care.

Restarts back off when a child keeps dying soon after its start (0 s, then 0.5 s doubling up to
``MAX_BACKOFF_S``); a child that ran for ``STABLE_AFTER_S`` starts over at no delay.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Callable, Sequence
from multiprocessing.context import SpawnProcess
from typing import Any

from streamrec.cluster.pids import process_start_ticks
from streamrec.processes.table import ProcessRecord, ProcessTable

__all__ = ["ChildSpec", "Supervisor"]

log = logging.getLogger(__name__)

FIRST_BACKOFF_S = 0.5
MAX_BACKOFF_S = 10.0
STABLE_AFTER_S = 30.0
STOP_TIMEOUT_S = 30.0


@dataclasses.dataclass(frozen=True)
class ChildSpec:
    """What one child runs: ``target(*args)`` in a fresh interpreter (picklable, module level)."""

    name: str
    role: str
    target: Callable[..., None]
    args: tuple[Any, ...] = ()


@dataclasses.dataclass
class _Child:
    spec: ChildSpec
    record: ProcessRecord
    process: SpawnProcess | None = None
    started: float = 0.0  # time.monotonic() of the last start
    failures: int = 0  # quick deaths in a row
    due: float = 0.0  # time.monotonic() when a dead child may start again


class Supervisor:
    def __init__(
        self,
        specs: Sequence[ChildSpec],
        table: ProcessTable,
        on_event: Callable[[str], None] | None = None,
    ) -> None:
        self._context = multiprocessing.get_context("spawn")
        self._children = [_Child(spec, ProcessRecord(spec.name, spec.role)) for spec in specs]
        self._table = table
        self._on_event = on_event or log.info
        self._started_at = time.time()

    @property
    def names(self) -> list[str]:
        return [c.spec.name for c in self._children]

    def pid(self, name: str) -> int | None:
        return next(c.record.pid for c in self._children if c.spec.name == name)

    def start(self) -> None:
        for child in self._children:
            self._spawn(child)
        self._write_table()

    def _spawn(self, child: _Child) -> None:
        spec = child.spec
        process = self._context.Process(
            target=spec.target, args=(os.getpid(), *spec.args), name=spec.name, daemon=False
        )
        process.start()
        child.process, child.started = process, time.monotonic()
        pid = process.pid
        child.record.pid, child.record.started_at = pid, time.time()
        child.record.start_ticks = process_start_ticks(pid) if pid is not None else None

    def check(self) -> list[str]:
        """Note children that died and start again those whose backoff is over; returns the
        names started again."""
        now = time.monotonic()
        restarted = []
        changed = False
        for child in self._children:
            process = child.process
            if process is not None and process.exitcode is not None:
                self._note_death(child, process.exitcode, now)
                changed = True
            if child.process is None and now >= child.due:
                self._spawn(child)
                child.record.restarts += 1
                restarted.append(child.spec.name)
                self._on_event(f"{child.spec.name} restarted (pid {child.record.pid})")
        if changed or restarted:
            self._write_table()
        return restarted

    def _note_death(self, child: _Child, code: int, now: float) -> None:
        assert child.process is not None
        child.process.close()
        child.process = None
        child.record.pid, child.record.start_ticks = None, None
        child.record.last_exit_code = code
        lived = now - child.started
        child.failures = 0 if lived >= STABLE_AFTER_S else child.failures + 1
        delay = 0.0 if child.failures <= 1 else FIRST_BACKOFF_S * 2 ** (child.failures - 2)
        child.due = now + min(delay, MAX_BACKOFF_S)
        self._on_event(f"{child.spec.name} exited with code {code} after {lived:.1f} s")

    def run(self, stop: threading.Event, interval_s: float = 0.2) -> None:
        """Watch the children until ``stop`` is set (by a signal handler), then stop them."""
        try:
            while not stop.wait(interval_s):
                self.check()
        finally:
            self.stop()

    def stop(self, timeout_s: float = STOP_TIMEOUT_S) -> None:
        """SIGTERM every child (consumers flush and commit, workers finish their requests),
        then SIGKILL those still running after ``timeout_s``."""
        running = [c.process for c in self._children if c.process is not None]
        for process in running:
            if process.pid is not None:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        for process in running:
            process.join(max(0.0, deadline - time.monotonic()))
            if process.exitcode is None:
                process.kill()
                process.join(10)
        for child in self._children:
            child.process = None
            child.record.pid, child.record.start_ticks = None, None
        self._write_table()

    def _write_table(self) -> None:
        try:
            self._table.write([c.record for c in self._children], self._started_at)
        except OSError as exc:  # the status page loses a line; the processes run on
            log.warning("cannot write the process table %s: %s", self._table.path, exc)
