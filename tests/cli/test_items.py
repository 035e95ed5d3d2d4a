"""``streamrec import-items``: a file into the catalogue, bad rows reported by line."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.catalogue.sqlite import SqliteCatalogue
from tests.cli_helpers import assert_usage_error, run_cli


def test_import_items_csv(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id,title,categories\na,Apple,Fruit|Red\n,Nameless,\n")
    data = tmp_path / "data"
    result = run_cli(data, "import-items", str(path), "--format", "csv")
    assert "items accepted: 1, rejected: 1" in result.stdout
    assert "line 3" in result.stdout
    catalogue = SqliteCatalogue(data / "catalogue.db")
    item = catalogue.get("a")
    catalogue.close()
    assert item is not None and item.categories == ("Fruit", "Red")


def test_import_items_unknown_format_fails(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_text("item_id\na\n")
    result = run_cli(tmp_path / "data", "import-items", str(path), "--format", "xml", check=False)
    assert result.returncode == 2 and "--format" in result.stdout + result.stderr


@pytest.mark.parametrize(
    ("fmt", "good"),
    [("csv", b"item_id,title\na,Apple\n"), ("jsonl", b'{"item_id": "a", "title": "Apple"}\n')],
)
def test_import_items_refuses_a_file_that_is_not_utf8_whole(
    tmp_path: Path, fmt: str, good: bytes
) -> None:
    path = tmp_path / "items.data"
    path.write_bytes(good + b"\xff\xfe\x00garbage\n")
    data = tmp_path / "data"
    result = run_cli(data, "import-items", str(path), "--format", fmt, check=False)
    assert_usage_error(result, str(path), "not UTF-8 text", f"byte 0xff at position {len(good)}")
    if (data / "catalogue.db").exists():
        catalogue = SqliteCatalogue(data / "catalogue.db")
        assert catalogue.count() == 0
        catalogue.close()
