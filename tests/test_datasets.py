"""Loaders, on small files written by the tests (the real datasets may not be redistributed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamrec.datasets import load_dataset
from streamrec.errors import ValidationError

COLUMNS = ["user_id", "item_id", "timestamp", "event_type", "event_value"]


def test_movielens(tmp_path: Path) -> None:
    (tmp_path / "u.data").write_text("196\t242\t3\t881250949\n186\t302\t5\t891717742\n")
    t = load_dataset(tmp_path, "movielens")
    assert t.column_names == COLUMNS
    assert t.to_pylist()[1] == {
        "user_id": "186", "item_id": "302", "timestamp": 891717742.0,
        "event_type": "rating", "event_value": 5.0,
    }  # fmt: skip


def test_csv_plain_and_personalize_headers(tmp_path: Path) -> None:
    plain = tmp_path / "a.csv"
    plain.write_text("user_id,item_id,timestamp\nu1,007,1700000000\nu2,i2,1700000001\n")
    t = load_dataset(plain, "csv")
    assert t.column("item_id").to_pylist() == ["007", "i2"]  # ids stay strings
    assert t.column("event_type").to_pylist() == ["view", "view"]
    aws = tmp_path / "b.csv"
    aws.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n1,2,1700000000000,Purchase,9.5\n"
    )
    row = load_dataset(aws, "csv").to_pylist()[0]
    assert row["user_id"] == "1" and row["timestamp"] == 1_700_000_000.0  # ms -> s
    assert row["event_type"] == "purchase" and row["event_value"] == 9.5


def test_jsonl_with_iso_time_and_session(tmp_path: Path) -> None:
    f = tmp_path / "e.jsonl"
    lines = [
        {"user_id": 5, "item_id": "x", "timestamp": "2024-01-01T00:00:10Z", "session_id": "s"},
        {"user_id": 5, "item_id": "y", "timestamp": "2024-01-01T00:00:20Z", "session_id": "s"},
    ]
    f.write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    t = load_dataset(f, "jsonl")
    assert t.column("user_id").to_pylist() == ["5", "5"]
    assert t.column("timestamp").to_pylist() == [1_704_067_210.0, 1_704_067_220.0]
    assert t.column("session_id").to_pylist() == ["s", "s"]


def test_otto_sessions_become_users(tmp_path: Path) -> None:
    f = tmp_path / "train.jsonl"
    session = {"session": 3, "events": [
        {"aid": 11, "ts": 1659304800025, "type": "clicks"},
        {"aid": 12, "ts": 1659304900000, "type": "carts"},
        {"aid": 12, "ts": 1659305000000, "type": "orders"},
    ]}  # fmt: skip
    f.write_text(json.dumps(session) + "\n")
    t = load_dataset(tmp_path, "otto")
    assert t.column("event_type").to_pylist() == ["click", "add_to_cart", "purchase"]
    assert t.column("user_id").to_pylist() == ["3"] * 3
    assert t.column("timestamp").to_pylist()[0] == pytest.approx(1659304800.025)


def test_yoochoose_folder_loads_train_before_test(tmp_path: Path) -> None:
    (tmp_path / "x_test.txt").write_text("SessionId\tItemId\tTime\n9\t100\t20.5\n")
    (tmp_path / "x_train_full.txt").write_text(
        "SessionId\tItemId\tTime\n1\t100\t10.25\n1\t101\t11\n"
    )
    t = load_dataset(tmp_path, "yoochoose")
    assert t.column("user_id").to_pylist() == ["1", "1", "9"]
    assert t.column("timestamp").to_pylist() == [10.25, 11.0, 20.5]


def write_diginetica(folder: Path) -> None:
    (folder / "train-purchases.csv").write_text(
        "sessionId;userId;timeframe;eventdate;ordernumber;itemId\n150;18278;1000;2016-05-06;1;25911\n"
        "151;NA;2000;2016-05-06;2;175874\n"
    )
    (folder / "sample_train-item-views.csv").write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n1;NA;81766;526309;2016-05-09\n"
        "2;77;5;1000;2016-05-09"
    )


def test_diginetica_views_are_sessions(tmp_path: Path) -> None:
    write_diginetica(tmp_path)
    rows = load_dataset(tmp_path, "diginetica").to_pylist()
    assert [r["user_id"] for r in rows] == ["s1", "s2"]  # the session, even with a known user
    assert {r["event_type"] for r in rows} == {"view"}
    assert rows[1]["timestamp"] == pytest.approx(1462752000 + 1.0)


def test_diginetica_purchases_users_or_sessions(tmp_path: Path) -> None:
    write_diginetica(tmp_path)
    rows = load_dataset(tmp_path, "diginetica-purchases").to_pylist()
    assert [r["user_id"] for r in rows] == ["u18278", "s151"]
    assert [r["event_type"] for r in rows] == ["purchase", "purchase"]
    assert rows[0]["timestamp"] == pytest.approx(1462492800 + 1.0)


def test_errors_name_the_problem(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="unknown format"):
        load_dataset(tmp_path, "parquet-ish")
    with pytest.raises(ValidationError, match="does not exist"):
        load_dataset(tmp_path / "missing.csv", "csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("user,item\n1,2\n")
    with pytest.raises(ValidationError, match="user_id"):
        load_dataset(bad, "csv")
