"""``streamrec train --activate`` and ``campaign set`` say when running servers switch: at
their next check of the campaign, once the version is loaded (ModelRegistry.active)."""

from __future__ import annotations

from pathlib import Path

from streamrec.config import Settings
from streamrec.models.registry import DEFAULT_REFRESH_S, ModelRegistry
from streamrec.synthetic import write_movielens
from tests.cli_helpers import run_cli

SWITCH_NOTE = (
    f"running servers load it at their next check (every {DEFAULT_REFRESH_S:g} s) and switch"
    " once it is loaded"
)


def test_train_activate_and_campaign_set_say_when_servers_switch(tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "ml", n_ratings=500)
    data = tmp_path / "data"
    run_cli(data, "import", str(folder / "u.data"), "--format", "movielens", "--no-progress")
    trained = run_cli(data, "train", "--recipe", "popularity", "--activate")
    assert f"campaign default now points at it; {SWITCH_NOTE}" in trained.stdout
    assert "now serves it" not in trained.stdout
    assert " INFO " not in trained.stderr  # the registry's log stays off a one-shot command
    version = ModelRegistry(Settings(data_dir=data)).campaigns()["default"]
    switched = run_cli(data, "campaign", "set", "other", version)
    assert f"campaign other -> {version}" in switched.stdout and SWITCH_NOTE in switched.stdout
