"""``streamrec lake query``: SQL that DuckDB refuses, or that returns no rows, is an input error
answered in one line, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.cli_helpers import assert_usage_error, run_cli


@pytest.mark.parametrize(
    ("sql", "fragments"),
    [
        ("SELEC garbage", ["Parser Error", "SELEC"]),
        ("SELECT * FROM nosuchtable", ["Catalog Error", "nosuchtable"]),
        ("DROP TABLE events", ["Catalog Error", "events"]),
        ("", ["SQL", "the query is empty"]),
        ("  ;  ", ["SQL", "the query is empty"]),
        ("/* only a comment */", ["SQL", "the query is empty"]),
    ],
)
def test_a_query_duckdb_refuses_is_one_error_line(
    tmp_path: Path, sql: str, fragments: list[str]
) -> None:
    result = run_cli(tmp_path / "data", "lake", "query", sql, check=False)
    assert_usage_error(result, *fragments)


def test_a_good_query_still_prints_its_rows(tmp_path: Path) -> None:
    result = run_cli(tmp_path / "data", "lake", "query", "SELECT 41 + 1 AS answer")
    assert "answer" in result.stdout and "42" in result.stdout
