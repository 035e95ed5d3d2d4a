"""``serve --roles``: which processes a supervisor runs for a role list, and its own run folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from streamrec.config import Settings
from streamrec.errors import ValidationError
from streamrec.processes.roles import parse_roles, serve_children, supervisor_dir


def settings(tmp_path: Path, **overrides: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **overrides)  # type: ignore[arg-type]


def test_all_is_every_enabled_group_the_api_and_maintenance(tmp_path: Path) -> None:
    assert parse_roles("all", settings(tmp_path)) == [
        "api",
        "history",
        "lake",
        "realtime",
        "attribution",
        "maintenance",
    ]
    assert "lake" not in parse_roles("all", settings(tmp_path, datalake=False))
    off = parse_roles("all", settings(tmp_path, record_recommendations=False))
    assert "attribution" not in off


def test_a_subset_keeps_the_canonical_order(tmp_path: Path) -> None:
    assert parse_roles(" realtime, api ", settings(tmp_path)) == ["api", "realtime"]


@pytest.mark.parametrize(
    ("text", "message"),
    [("bogus", "unknown role 'bogus'"), ("lake", "switched off"), (" , ", "at least one")],
)
def test_a_wrong_role_list_is_a_clear_error(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message) as caught:
        parse_roles(text, settings(tmp_path, datalake=False))
    assert caught.value.field == "roles"


def test_children_follow_the_roles(tmp_path: Path) -> None:
    s = settings(tmp_path)
    table = tmp_path / "processes.json"
    with socket.socket() as sock:
        names = [c.name for c in serve_children(s, sock, table, 2, ["api", "lake"])]
    assert names == ["api-0", "api-1", "consumer-lake"]
    only_groups = serve_children(s, None, table, 2, ["history", "maintenance"])
    assert [c.role for c in only_groups] == ["consumer", "maintenance"]


def test_only_the_first_api_worker_writes_the_state_snapshot(tmp_path: Path) -> None:
    """The workers' states are the same; one writer spares the others the snapshot's stall."""
    table = tmp_path / "processes.json"
    with socket.socket() as sock:
        workers = serve_children(settings(tmp_path), sock, table, 3, ["api"])
    assert [c.args[-1] for c in workers] == [True, False, False]


def test_the_run_folder_is_per_supervisor_and_dead_ones_are_removed(tmp_path: Path) -> None:
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    stale = tmp_path / "run" / f"serve-{int(dead.stdout)}"
    live = tmp_path / "run" / f"serve-{os.getppid()}"  # the parent of this test runs
    for folder in (stale, live):
        folder.mkdir(parents=True)
    mine = supervisor_dir(tmp_path)
    assert mine == tmp_path / "run" / f"serve-{os.getpid()}" and mine.is_dir()
    assert not stale.exists() and live.exists()
