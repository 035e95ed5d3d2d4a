"""``streamrec import-items``: a file into the catalogue, bad rows reported by line."""

from __future__ import annotations

from pathlib import Path

from streamrec.catalogue.sqlite import SqliteCatalogue
from tests.cli_helpers import run_cli


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
