"""``streamrec evaluate``: a dataset or format that cannot be loaded is named by its option."""

from __future__ import annotations

from pathlib import Path

from tests.cli_helpers import assert_usage_error, run_cli


def test_a_missing_dataset_is_named_as_the_option(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    result = run_cli(tmp_path / "data", "evaluate", "--dataset", str(missing), check=False)
    line = assert_usage_error(result, "--dataset:", str(missing), "does not exist")
    assert line.startswith("error: --dataset:")


def test_an_unknown_format_is_named_as_the_option(tmp_path: Path) -> None:
    dataset = tmp_path / "events.csv"
    dataset.write_text("user_id,item_id,timestamp\n")
    result = run_cli(tmp_path / "data", "evaluate", "--dataset", str(dataset), "--format", "xml",
                     check=False)  # fmt: skip
    assert_usage_error(result, "--format:", "unknown format 'xml'")
