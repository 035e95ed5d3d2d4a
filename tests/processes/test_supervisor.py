"""The supervisor restarts what dies (backing off from children that die on start), shows it in
the process table, and stops every child with SIGTERM."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from streamrec.processes import ChildSpec, ProcessTable, Supervisor
from streamrec.testing._process import wait_until
from tests.processes.children import exit_at_once, wait_for_sigterm


@pytest.fixture
def table(tmp_path: Path) -> ProcessTable:
    return ProcessTable(tmp_path / "processes.json")


def by_name(table: ProcessTable) -> dict[str, dict[str, object]]:
    body = table.read()
    assert body is not None
    return {p["name"]: p for p in body["processes"]}


def noted_down(supervisor: Supervisor, table: ProcessTable) -> bool:
    restarted = supervisor.check()
    return not restarted and by_name(table)["crash"]["pid"] is None


def test_a_killed_child_is_restarted_and_the_table_says_so(table: ProcessTable) -> None:
    supervisor = Supervisor(
        [ChildSpec("a", "consumer", wait_for_sigterm), ChildSpec("b", "api", wait_for_sigterm)],
        table,
    )
    supervisor.start()
    try:
        first = supervisor.pid("a")
        assert first is not None and by_name(table)["a"]["alive"] is True
        os.kill(first, signal.SIGKILL)
        wait_until(lambda: supervisor.check() == ["a"], 30, "restart of a")
        rows = by_name(table)
        assert rows["a"]["pid"] not in (None, first) and rows["a"]["alive"] is True
        assert rows["a"]["restarts"] == 1 and rows["a"]["last_exit_code"] == -signal.SIGKILL
        assert rows["b"]["restarts"] == 0 and rows["b"]["alive"] is True
    finally:
        supervisor.stop()
    rows = by_name(table)
    assert all(row["alive"] is False and row["pid"] is None for row in rows.values())


def test_a_child_dying_on_start_is_restarted_with_growing_delays(table: ProcessTable) -> None:
    supervisor = Supervisor([ChildSpec("crash", "consumer", exit_at_once, (7,))], table)
    supervisor.start()
    try:
        wait_until(lambda: supervisor.check() == ["crash"], 30, "first restart")
        # The second quick death is noted but not restarted at once: it waits its backoff.
        wait_until(lambda: noted_down(supervisor, table), 30, "second death")
        row = by_name(table)["crash"]
        assert row["restarts"] == 1 and row["last_exit_code"] == 7
        wait_until(lambda: supervisor.check() == ["crash"], 30, "restart after the backoff")
    finally:
        supervisor.stop()


def test_stop_ends_every_child_with_sigterm(table: ProcessTable) -> None:
    supervisor = Supervisor([ChildSpec("a", "api", wait_for_sigterm)], table)
    supervisor.start()
    supervisor.stop(timeout_s=30)
    body = table.read()
    assert body is not None and body["processes"][0]["last_exit_code"] is None
    assert body["processes"][0]["alive"] is False


def test_a_table_left_by_a_dead_supervisor_shows_nothing_alive(table: ProcessTable) -> None:
    assert table.read() is None
    supervisor = Supervisor([ChildSpec("a", "api", wait_for_sigterm)], table)
    supervisor.start()
    pid = supervisor.pid("a")
    saved = table.path.read_text()
    supervisor.stop()
    table.path.write_text(saved)  # as a SIGKILLed supervisor leaves it
    body = table.read()
    assert body is not None and body["processes"][0]["pid"] == pid
    assert body["processes"][0]["alive"] is False
