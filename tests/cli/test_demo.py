"""`streamrec demo movielens DIR` and `streamrec import` next to a running server."""

from __future__ import annotations

from pathlib import Path

from streamrec.catalogue import open_catalogue
from streamrec.config import Settings
from streamrec.lake.reader import LakeReader
from streamrec.models.registry import ModelRegistry
from streamrec.synthetic import write_movielens
from tests.browser.server import start_server
from tests.cli_helpers import assert_usage_error, run_cli


def rating_lines(folder: Path) -> int:
    return len((folder / "u.data").read_text().splitlines())


def test_demo_movielens_loads_titles_ratings_and_a_model(tmp_path: Path) -> None:
    folder = write_movielens(tmp_path / "ml")
    data = tmp_path / "data"
    result = run_cli(data, "demo", "movielens", str(folder), "--no-progress")
    assert "trained on" in result.stdout
    settings = Settings(data_dir=data)
    catalogue = open_catalogue(settings)
    try:
        item = catalogue.get("12")
        assert item is not None and item.title == "Film 12 (1997)"
    finally:
        catalogue.close()
    assert LakeReader(settings.lake_location).stats().rows == rating_lines(folder)
    assert ModelRegistry(settings).campaigns()[settings.campaign]


def test_demo_movielens_names_a_missing_file(tmp_path: Path) -> None:
    folder = tmp_path / "ml"
    folder.mkdir()
    (folder / "u.data").write_text("1\t2\t3\t874724710\n")
    result = run_cli(tmp_path / "data", "demo", "movielens", str(folder), check=False)
    assert result.returncode == 2 and "u.item" in result.stderr
    assert "Traceback" not in result.stderr


def test_import_next_to_a_server_waits_for_every_group_with_progress(tmp_path: Path) -> None:
    """The lake group of a running server writes the import as soon as its last event is in:
    with an hour's flush interval, the import still returns with every row in the lake."""
    folder = write_movielens(tmp_path / "ml")
    data = tmp_path / "data"
    served = start_server(data, {"STREAMREC_LAKE_FLUSH_INTERVAL_S": "3600"})
    try:
        result = run_cli(
            data, "import", str(folder / "u.data"), "--format", "movielens", "--timeout", "120"
        )
    finally:
        served.stop()
    lines = rating_lines(folder)
    for group in ("history", "lake", "realtime"):
        assert f"consumer group {group}" in result.stdout
        assert f"consumer group {group}: processed by its running consumers" in result.stdout
    assert result.stdout.count(f"{lines}/{lines}") >= 3  # each group's bar: rows applied
    assert LakeReader(str(data / "lake")).stats().rows == lines


def test_demo_movielens_names_a_directory_that_does_not_exist(tmp_path: Path) -> None:
    missing = tmp_path / "nonexistent"
    result = run_cli(tmp_path / "data", "demo", "movielens", str(missing), check=False)
    assert_usage_error(result, "DIR", f"the directory {missing} does not exist")
    assert not (tmp_path / "data").exists()


def test_demo_movielens_refuses_ratings_that_are_not_utf8_before_changing_anything(
    tmp_path: Path,
) -> None:
    folder = write_movielens(tmp_path / "ml")
    (folder / "u.data").write_bytes(b"1\t2\t3\t874724710\n\xff\n")
    data = tmp_path / "data"
    result = run_cli(data, "demo", "movielens", str(folder), check=False)
    assert_usage_error(result, "DIR", "u.data", "not UTF-8 text")
    assert not data.exists()  # the catalogue was not loaded from u.item
