"""Bulk import: formats, headers, and rejected rows reported with their line numbers."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.config import Settings
from streamrec.errors import ValidationError
from streamrec.events import Event, validate_event
from streamrec.importer import ImportReport, _chunk_events, _EventIds, import_file
from streamrec.stream import EventLog, open_event_log


@pytest.fixture
def settings_(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", shard_count=2)


@pytest.fixture
def log(settings_: Settings) -> Iterator[EventLog]:
    event_log = open_event_log(settings_)
    yield event_log
    event_log.close()


def stream_events(log: EventLog) -> list[Event]:
    consumer = log.consumer("test")
    try:
        return [r.event for r in consumer.poll(1_000_000, 0)]
    finally:
        consumer.close()


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_reach_the_stream(tmp_path: Path, settings_: Settings, log: EventLog) -> None:
    path = write(
        tmp_path,
        "a.csv",
        "user_id,item_id,timestamp,event_type,event_value,session_id\n"
        "u1,i1,1700000000,purchase,9.5,s1\nu2,i2,1700000001,,,\n",
    )
    report = import_file(path, "csv", settings_, log, progress=False)
    assert (report.accepted, report.rejected) == (2, 0)
    events = sorted(stream_events(log), key=lambda e: e.user_id)
    assert [
        (e.user_id, e.item_id, e.timestamp, e.event_type, e.event_value, e.session_id)
        for e in events
    ] == [
        ("u1", "i1", 1700000000.0, "purchase", 9.5, "s1"),
        ("u2", "i2", 1700000001.0, "view", None, None),
    ]
    assert len({e.event_id for e in events}) == 2


def test_personalize_headers_are_accepted(
    tmp_path: Path, settings_: Settings, log: EventLog
) -> None:
    path = write(
        tmp_path,
        "p.csv",
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\nu1,i1,1700000000,click,1\n",
    )
    report = import_file(path, "csv", settings_, log, progress=False)
    assert report.accepted == 1
    assert stream_events(log)[0].event_type == "click"


def test_rejected_rows_are_reported_with_line_numbers(
    tmp_path: Path, settings_: Settings, log: EventLog
) -> None:
    rows = [
        "u1,i1,1700000000",  # line 2: fine
        ",i1,1700000000",  # line 3: no user
        "u1,i1,1700000000000",  # line 4: milliseconds
        "u1,i1,2023-11-14T22:13:20Z",  # line 5: ISO-8601 is fine (slow path)
        "u1," + "x" * 257 + ",1",  # line 6: item id too long
        "u1,i1,soon",  # line 7: not a time
        "u1,i1,-5",  # line 8: before 1970
    ]
    path = write(tmp_path, "bad.csv", "user_id,item_id,timestamp\n" + "\n".join(rows) + "\n")
    report = import_file(path, "csv", settings_, log, progress=False)
    assert (report.accepted, report.rejected) == (2, 5)
    assert [line for line, _ in report.errors] == [3, 4, 6, 7, 8]
    messages = dict(report.errors)
    assert messages[3].startswith("user_id")
    assert "milliseconds" in messages[4]
    assert messages[6].startswith("item_id")
    assert [e.timestamp for e in stream_events(log)] == [1700000000.0, 1700000000.0]


def test_line_numbers_count_across_chunks(
    tmp_path: Path, settings_: Settings, log: EventLog
) -> None:
    lines = [f"u{i},i{i},{1_600_000_000 + i}" for i in range(300_000)]
    lines[250_000] = "u,i,not-a-time"
    path = write(tmp_path, "big.csv", "user_id,item_id,timestamp\n" + "\n".join(lines) + "\n")
    report = import_file(path, "csv", settings_, log, progress=False)
    assert report.rejected == 1
    assert report.errors[0][0] == 250_000 + 2
    assert report.accepted == 299_999


def test_unknown_or_missing_columns_stop_the_import(
    tmp_path: Path, settings_: Settings, log: EventLog
) -> None:
    with pytest.raises(ValidationError, match="colour"):
        import_file(
            write(tmp_path, "c.csv", "user_id,item_id,timestamp,colour\n"),
            "csv",
            settings_,
            log,
            progress=False,
        )
    with pytest.raises(ValidationError, match="timestamp"):
        import_file(
            write(tmp_path, "d.csv", "user_id,item_id\n"), "csv", settings_, log, progress=False
        )


def test_movielens_rows_become_ratings(tmp_path: Path, settings_: Settings, log: EventLog) -> None:
    path = write(tmp_path, "u.data", "196\t242\t3\t881250949\n186\t302\t3.5\t891717742\nx\t1\n")
    report = import_file(path, "movielens", settings_, log, progress=False)
    assert (report.accepted, report.rejected) == (2, 1)
    assert report.errors[0][0] == 3
    events = sorted(stream_events(log), key=lambda e: e.timestamp)
    assert [(e.user_id, e.item_id, e.event_type, e.event_value) for e in events] == [
        ("196", "242", "rating", 3.0),
        ("186", "302", "rating", 3.5),
    ]


def test_jsonl_lines_carry_every_field(tmp_path: Path, settings_: Settings, log: EventLog) -> None:
    good = {
        "user_id": "u1",
        "item_id": "i1",
        "timestamp": 1700000000,
        "event_id": "e-1",
        "properties": {"page": "home"},
        "impression": ["i1", "i2"],
    }
    text = json.dumps(good) + "\n\n{not json\n" + json.dumps({"user_id": "u1"}) + "\n"
    report = import_file(write(tmp_path, "e.jsonl", text), "jsonl", settings_, log, progress=False)
    assert (report.accepted, report.rejected) == (1, 2)
    assert [line for line, _ in report.errors] == [3, 4]
    (event,) = stream_events(log)
    assert (event.event_id, event.properties, event.impression) == (
        "e-1",
        {"page": "home"},
        ["i1", "i2"],
    )


def _fields(e: Event) -> tuple[object, ...]:
    return (e.user_id, e.item_id, e.timestamp, e.event_type, e.event_value, e.session_id)


cell = st.one_of(
    st.none(),
    st.text(max_size=6),
    st.sampled_from(
        [
            "1700000000",
            "1.5",
            "-1",
            "1e3",
            ".5",
            "1.",
            "nan",
            "inf",
            "1e20",
            "2023-01-01",
            " 7",
            "1_000",
            "x" * 300,
            "9" * 12,
        ]
    ),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(cell, cell, cell, cell, cell, cell), min_size=1, max_size=20))
def test_fast_path_agrees_with_validate_event(rows: list[tuple[str | None, ...]]) -> None:
    """The column-wise checks accept exactly what validate_event accepts, with the same values."""
    import pyarrow as pa

    names = ["user_id", "item_id", "timestamp", "event_type", "event_value", "session_id"]
    table = pa.table({n: pa.array([r[i] for r in rows], pa.string()) for i, n in enumerate(names)})
    now = 1_800_000_000.0
    report = ImportReport("t")
    events = _chunk_events(table, lambda r: r + 2, now, _EventIds(), report)
    expected = []
    for row in rows:
        raw = {n: v for n, v in zip(names, row, strict=True) if v is not None}
        with contextlib.suppress(ValidationError):
            expected.append(validate_event(raw, now))
    assert [_fields(e) for e in events] == [_fields(e) for e in expected]
    assert report.rejected == len(rows) - len(expected)
