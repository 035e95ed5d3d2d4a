"""``streamrec lake query``: SQL that DuckDB refuses, or that returns no rows, is an input error
answered in one line, not a traceback; ``lake erase`` takes only an id the API would take."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.config import Settings
from streamrec.events import MAX_ID_LENGTH
from streamrec.lake import LakeReader, LakeWriter
from streamrec.lake.erase import ERASURES_DIR
from streamrec.stream.base import StreamRecord
from tests.cli_helpers import assert_usage_error, run_cli
from tests.factories import make_event


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


def lake_with_users(data: Path, users: list[str]) -> None:
    """One lake file holding one event of each user ('' as attribution records of similar-item
    calls store it)."""
    writer = LakeWriter(Settings(data_dir=data).lake_location, 1 << 40, 3600.0)
    writer.add([StreamRecord(0, i, make_event(user_id=u)) for i, u in enumerate(users)])
    writer.flush()
    writer.close()


def lake_rows(data: Path) -> int:
    table = LakeReader(Settings(data_dir=data).lake_location).query("SELECT count(*) n FROM events")
    return int(table.column("n")[0].as_py())


@pytest.mark.parametrize(
    ("user_id", "fragment"),
    [
        ("", "must not be empty"),
        ("u" * (MAX_ID_LENGTH + 1), f"must be 1-{MAX_ID_LENGTH} characters"),
    ],
)
def test_erase_refuses_an_id_the_api_would_not_take_and_deletes_nothing(
    tmp_path: Path, user_id: str, fragment: str
) -> None:
    data = tmp_path / "data"
    lake_with_users(data, ["", "   ", "alice"])
    result = run_cli(data, "lake", "erase", user_id, check=False)
    assert_usage_error(result, "USER_ID", fragment)
    assert lake_rows(data) == 3
    assert not (data / "lake" / ERASURES_DIR).exists()


@pytest.mark.parametrize("user_id", ["alice", "   "])  # events take any characters
def test_erase_still_removes_a_real_users_rows(tmp_path: Path, user_id: str) -> None:
    data = tmp_path / "data"
    lake_with_users(data, ["", "alice", "   "])
    result = run_cli(data, "lake", "erase", user_id)
    assert f"erased 1 rows of user {user_id!r}" in result.stdout
    assert lake_rows(data) == 2
