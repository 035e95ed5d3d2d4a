"""`streamrec import`: rows through the stream, a report with line numbers, and consumers caught up
before it returns, so a command run right after sees the events."""

from __future__ import annotations

from pathlib import Path

import pytest

from streamrec.cli.ingest import GroupProgress
from streamrec.config import Settings
from streamrec.errors import UnavailableError
from streamrec.lake.reader import LakeReader
from streamrec.runtime import Runtime
from tests.cli_helpers import assert_usage_error, run_cli
from tests.factories import make_event


def test_import_csv_then_history_and_lake_have_it(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text(
        "USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE,EVENT_VALUE\n"
        "u1,a,1700000000,view,\n"
        "u1,b,1700000100,purchase,9.5\n"
        "u2,a,1700000000000,view,\n"  # milliseconds: refused with its line number
        ",c,1700000000,view,\n"
    )
    data = tmp_path / "data"
    result = run_cli(data, "import", str(csv), "--format", "csv", "--no-progress")
    assert "2 accepted" in result.stdout and "2 rejected" in result.stdout
    assert "line 4" in result.stdout and "milliseconds" in result.stdout
    assert "line 5" in result.stdout
    rows = LakeReader(str(data / "lake")).query("SELECT COUNT(*) AS n FROM events")
    assert rows.column("n")[0].as_py() == 2
    query = run_cli(data, "lake", "query", "SELECT item_id FROM events ORDER BY item_id")
    assert "a" in query.stdout and "b" in query.stdout


def test_import_reports_a_bad_format(tmp_path: Path) -> None:
    csv = tmp_path / "e.csv"
    csv.write_text("user_id,item_id,timestamp\nu,i,1\n")
    result = run_cli(tmp_path / "d", "import", str(csv), "--format", "xml", check=False)
    assert result.returncode == 2 and "xml" in (result.stdout + result.stderr)
    assert "Traceback" not in result.stderr


def test_every_groups_bar_counts_the_imports_rows_however_far_each_group_had_got(
    tmp_path: Path,
) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", tracking_id="t"))
    log = runtime.event_log
    log.append([make_event(user_id=f"old{i}", item_id="a") for i in range(4)])
    caught_up = {s.shard: s.head for s in log.status()}
    history = log.consumer("history")
    history.commit(caught_up)
    history.close()
    log.append([make_event(user_id=f"new{i}", item_id="b") for i in range(6)])
    heads = {s.shard: s.head for s in log.status()}
    bars = GroupProgress(runtime, ["history", "lake"], heads, False, since=caught_up)
    assert bars.totals == {"history": 6, "lake": 6}
    assert not bars.update()
    assert bars.applied() == {"history": 0, "lake": 0}  # lake's lag (10) is more than the import
    history = log.consumer("history")
    history.commit(heads)
    history.close()
    bars.update()
    assert bars.applied() == {"history": 6, "lake": 0}
    runtime.close()


def test_a_timeout_names_only_the_groups_still_behind_and_their_lag(tmp_path: Path) -> None:
    runtime = Runtime(Settings(data_dir=tmp_path / "data", tracking_id="t"))
    log = runtime.event_log
    log.append([make_event(user_id=f"u{i}") for i in range(3)])
    heads = {s.shard: s.head for s in log.status()}
    history = log.consumer("history")
    history.commit(heads)
    history.close()
    bars = GroupProgress(runtime, ["history", "lake"], heads, False)
    with pytest.raises(UnavailableError) as raised:
        bars.wait({}, timeout_s=0)
    assert "lake (lag 3)" in str(raised.value) and "history" not in str(raised.value)
    runtime.close()


GOOD_ROWS = {
    "csv": b"user_id,item_id,timestamp\nu1,a,1700000000\nu2,b,1700000000\n",
    "jsonl": b'{"user_id": "u1", "item_id": "a", "timestamp": 1700000000}\n' * 2,
    "movielens": b"1\t2\t5\t1700000000\n3\t4\t3\t1700000000\n",
}


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "movielens"])
@pytest.mark.parametrize("where", ["start", "after good rows"])
def test_a_file_that_is_not_utf8_is_refused_whole(tmp_path: Path, fmt: str, where: str) -> None:
    path = tmp_path / "bin.data"
    good = GOOD_ROWS[fmt]
    if where == "start":
        path.write_bytes(b"\xff\xfe\x00garbage")
        fragments = ["not UTF-8 text", "byte 0xff at position 0", "line 1"]
    else:
        path.write_bytes(good + b"u3,\xe9t\xe9,1700000000\n")
        line = good.count(b"\n") + 1
        fragments = ["not UTF-8 text", f"byte 0xe9 at position {len(good) + 3}", f"line {line}"]
    data = tmp_path / "data"
    result = run_cli(data, "import", str(path), "--format", fmt, "--no-progress", check=False)
    assert_usage_error(result, str(path), *fragments)
    runtime = Runtime(Settings(data_dir=data, tracking_id="t"))
    try:
        assert sum(s.head for s in runtime.event_log.status()) == 0
    finally:
        runtime.close()


def test_import_exits_1_after_its_summary_when_every_row_is_rejected(tmp_path: Path) -> None:
    csv = tmp_path / "events.csv"
    csv.write_text("user_id,item_id,timestamp\n,a,1700000000\n")
    result = run_cli(tmp_path / "data", "import", str(csv), "--no-progress", check=False)
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "0 accepted" in result.stdout and "1 rejected" in result.stdout
    assert "line 2" in result.stdout


def data_dir_with_a_state_snapshot(data: Path) -> None:
    """What a server leaves behind: the real-time state's snapshot, which every command opening
    the runtime restores (and logs at INFO)."""
    runtime = Runtime(Settings(data_dir=data, tracking_id="t"))
    runtime.keep_snapshots()
    runtime.state_feed.ready.set()
    runtime.state_feed.save()
    runtime.close()


def test_import_keeps_the_runtimes_info_log_off_the_console(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data_dir_with_a_state_snapshot(data)
    assert list(data.rglob("*.npz"))
    csv = tmp_path / "events.csv"
    csv.write_text("user_id,item_id,timestamp\nu1,a,1700000000\n")
    result = run_cli(data, "import", str(csv), "--no-progress")
    assert "1 accepted" in result.stdout
    assert " INFO " not in result.stderr, result.stderr
    verbose = run_cli(data, "--verbose", "import", str(csv), "--no-progress")
    assert "real-time state restored" in verbose.stderr


@pytest.mark.parametrize(
    ("content", "fragments"),
    [
        (b"uid,item_id,timestamp\nu1,a,1700000000\n", ["uid", "is not an import column"]),
        (b"user_id,item_id\nu1,a\n", ["timestamp", "column is missing"]),
        (b"user_id,item_id,timestamp\n\xff\n", ["PATH", "not UTF-8 text"]),
    ],
)
def test_import_names_a_bad_file_before_opening_anything(
    tmp_path: Path, content: bytes, fragments: list[str]
) -> None:
    csv = tmp_path / "events.csv"
    csv.write_bytes(content)
    data = tmp_path / "data"
    result = run_cli(data, "import", str(csv), "--no-progress", check=False)
    assert_usage_error(result, *fragments)
    assert not data.exists()  # neither the stream nor the serving state was opened


def test_a_comma_separated_file_given_as_movielens_is_told_the_format_is_tab_separated(
    tmp_path: Path,
) -> None:
    ratings = tmp_path / "u.data"
    ratings.write_text("1,2,3,874724710\n")
    result = run_cli(tmp_path / "data", "import", str(ratings), "--format", "movielens",
                     "--no-progress", check=False)  # fmt: skip
    assert result.returncode == 1
    assert "line 1: expected 4 fields, got 1 (the MovieLens format is tab-separated" in (
        result.stdout
    )
