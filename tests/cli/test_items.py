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


def test_import_items_exits_1_after_its_summary_when_every_row_is_rejected(
    tmp_path: Path,
) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('\nnot json\n{"title": "no id"}\n')
    result = run_cli(tmp_path / "data", "import-items", str(path), "--format", "jsonl",
                     check=False)  # fmt: skip
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert "items accepted: 0, rejected: 2" in result.stdout
    assert "line 2: malformed JSON: Expecting value" in result.stdout
    assert "line 3: item_id" in result.stdout


def test_import_items_names_a_movielens_line_by_its_number_alone(tmp_path: Path) -> None:
    path = tmp_path / "u.item"
    path.write_text("1|Toy Story (1995)|01-Jan-1995||http://x|0|0|0\n")
    result = run_cli(tmp_path / "data", "import-items", str(path), "--format", "movielens",
                     check=False)  # fmt: skip
    assert result.returncode == 1
    assert "line 1: expected 22+ fields" in result.stdout
