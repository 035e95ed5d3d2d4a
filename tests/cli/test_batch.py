"""`streamrec recommend-batch` and `streamrec segments` on a demo shop: the batch's lines are
what GET /v1/recommendations answers, with one process or several."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.config import Settings
from streamrec.events import MAX_ID_LENGTH
from streamrec.runtime import Runtime
from streamrec.serving.state_snapshot import replay_retained
from streamrec.synthetic import write_movielens
from tests.cli_helpers import assert_usage_error, run_cli


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("shop")
    data = tmp / "data"
    run_cli(data, "demo", "movielens", str(write_movielens(tmp / "ml")), "--no-progress")
    return data


def answers(path: Path) -> dict[str, dict[str, object]]:
    return {line["user_id"]: line for line in map(json.loads, path.read_text().splitlines())}


def test_recommend_batch_writes_what_the_api_serves(shop: Path, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text('1\n2\n{"userId": "3"}\n4\nnever-seen\n')
    one, two = tmp_path / "one.jsonl", tmp_path / "two.jsonl"
    result = run_cli(shop, "recommend-batch", "--users", str(users), "--n", "7", "--out", str(one),
                     "--workers", "1")  # fmt: skip
    assert "5 users written" in result.stderr and "users/s" in result.stderr
    run_cli(shop, "recommend-batch", "--users", str(users), "--n", "7", "--out", str(two),
            "--workers", "2")  # fmt: skip
    batch, forked = answers(one), answers(two)
    assert list(batch) == ["1", "2", "3", "4", "never-seen"] == list(forked)
    runtime = Runtime(Settings(data_dir=shop))
    # what an API process does at start: the stream's events after the snapshot (here: none)
    replay_retained(runtime.event_log, runtime.state_feed, runtime.user_state.positions())
    try:
        with TestClient(create_app(runtime)) as client:
            for user in batch:
                served = client.get(f"/v1/recommendations/{user}", params={"n": 7}).json()
                # the served items with their metadata and scores; the lines carry no reasons
                want = [{k: v for k, v in i.items() if k != "reason"} for i in served["items"]]
                want_scores = [i.pop("score") for i in want]
                for line in (batch[user], forked[user]):
                    assert line["model"] == served["model"]
                    got = line["items"]
                    assert isinstance(got, list)
                    assert [i.pop("score") for i in got] == pytest.approx(want_scores, rel=1e-6)
                    assert got == want, user
    finally:
        runtime.close()
    again = run_cli(shop, "recommend-batch", "--users", str(users), "--out", str(one))
    assert "0 users written" in again.stderr and "5 were already there" in again.stderr


def test_recommend_batch_reads_stdin_and_names_a_bad_filter(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    command = [sys.executable, "-m", "streamrec.cli", "recommend-batch", "--users", "-",
               "--out", str(out), "--workers", "1"]  # fmt: skip
    env = {**os.environ, "STREAMREC_DATA_DIR": str(shop)}
    result = subprocess.run(command, input="2\n1\n", env=env, capture_output=True, text=True,
                            timeout=300, check=True)  # fmt: skip
    assert "2 users written" in result.stderr and list(answers(out)) == ["2", "1"]
    bad = run_cli(shop, "recommend-batch", "--users", "-", "--out", str(out),
                  "--filter", "NOT A FILTER", check=False)  # fmt: skip
    assert bad.returncode == 2 and "filter" in bad.stderr.lower()
    assert "Traceback" not in bad.stderr


def test_segments_lists_the_users_with_most_affinity(shop: Path, tmp_path: Path) -> None:
    out = tmp_path / "segment.jsonl"
    result = run_cli(
        shop, "segments", "--item", "1", "--item", "2", "--size", "5", "--out", str(out)
    )
    assert "5 users written" in result.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    scores = [r["score"] for r in rows]
    assert len(rows) == 5 and scores == sorted(scores, reverse=True)
    missing = run_cli(shop, "segments", "--item", "no-such-item", "--out", str(out), check=False)
    assert missing.returncode == 2 and "no-such-item" in missing.stderr


def test_segments_read_an_aliased_anonymous_id_as_its_user(tmp_path: Path) -> None:
    from streamrec.aliases import alias_event
    from streamrec.cli.batch import SEGMENT_USERS_SQL
    from streamrec.lake import LakeReader, LakeWriter
    from streamrec.stream.base import StreamRecord
    from tests.factories import make_event

    events = [
        make_event("anon", "a"),
        alias_event("anon", "alice", 1.7e9),
        make_event("carol", "b"),
        alias_event("anon-2", "dave", 1.7e9),  # dave has no event of his own yet
    ]
    writer = LakeWriter(str(tmp_path / "lake"), 1 << 40, 3600.0)
    writer.add([StreamRecord(0, i, e) for i, e in enumerate(events)])
    writer.close()
    users = LakeReader(str(tmp_path / "lake")).query(SEGMENT_USERS_SQL).column("user_id")
    assert users.to_pylist() == ["alice", "carol", "dave"]


def test_recommend_batch_names_a_users_file_it_cannot_read(tmp_path: Path) -> None:
    out = str(tmp_path / "out.jsonl")
    data = tmp_path / "data"
    missing = run_cli(data, "recommend-batch", "--users", str(tmp_path / "nope.txt"),
                      "--out", out, check=False)  # fmt: skip
    assert_usage_error(missing, "--users", "nope.txt", "does not exist")
    folder = run_cli(data, "recommend-batch", "--users", str(tmp_path), "--out", out, check=False)
    assert_usage_error(folder, "--users", "is a directory")
    binary = tmp_path / "users.bin"
    binary.write_bytes(b"u1\n\xff\xfe\x00\n")
    garbage = run_cli(data, "recommend-batch", "--users", str(binary), "--out", out, check=False)
    assert_usage_error(garbage, "--users", "not UTF-8", "0xff")
    assert not Path(out).exists()


@pytest.mark.parametrize("command", ["recommend-batch", "segments"])
def test_an_out_path_that_cannot_be_written_is_named(tmp_path: Path, command: str) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n")
    data = tmp_path / "data"
    given = ["--users", str(users)] if command == "recommend-batch" else ["--item", "1"]
    folder = run_cli(data, command, *given, "--out", str(tmp_path), check=False)
    assert_usage_error(folder, "--out", "is a directory")
    nowhere = tmp_path / "no-such-dir" / "deeper" / "x.jsonl"
    missing = run_cli(data, command, *given, "--out", str(nowhere), check=False)
    assert_usage_error(missing, "--out", "no-such-dir", "does not exist")
    assert not (tmp_path / "no-such-dir").exists()


@pytest.mark.parametrize("command", ["recommend-batch", "segments"])
def test_a_campaign_with_no_model_is_named_not_served_by_the_fallback(
    shop: Path, tmp_path: Path, command: str
) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n")
    out = tmp_path / "out.jsonl"
    given = ["--users", str(users)] if command == "recommend-batch" else ["--item", "1"]
    result = run_cli(shop, command, *given, "--out", str(out), "--campaign", "nope", check=False)
    assert_usage_error(result, "--campaign", "no campaign 'nope'", "known: default")
    assert not out.exists()


def test_a_fresh_install_serves_its_configured_campaign_before_any_model(tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n")
    data = tmp_path / "data"
    for campaign in ([], ["--campaign", "default"]):
        out = tmp_path / f"out{len(campaign)}.jsonl"
        result = run_cli(data, "recommend-batch", "--users", str(users), "--out", str(out),
                         "--workers", "1", *campaign)  # fmt: skip
        assert "1 users written" in result.stderr
    shop_campaign = run_cli(data, "recommend-batch", "--users", str(users), "--out",
                            str(tmp_path / "out.jsonl"), "--campaign", "shop", check=False,
                            env={"STREAMREC_CAMPAIGN": "shop"})  # fmt: skip
    assert shop_campaign.returncode == 0, shop_campaign.stderr


@pytest.mark.parametrize("item", ["", "i" * (MAX_ID_LENGTH + 1)])
def test_segments_names_an_item_id_the_api_would_not_take(tmp_path: Path, item: str) -> None:
    out = tmp_path / "out.jsonl"
    result = run_cli(tmp_path / "data", "segments", "--item", "1", "--item", item,
                     "--out", str(out), check=False)  # fmt: skip
    assert_usage_error(result, "--item")
    assert not out.exists() and not (tmp_path / "data").exists()


@pytest.mark.parametrize("command", ["recommend-batch", "segments"])
def test_an_unknown_campaign_is_named_before_the_runtime_opens(
    tmp_path: Path, command: str
) -> None:
    users = tmp_path / "users.txt"
    users.write_text("1\n")
    data = tmp_path / "data"
    given = ["--users", str(users)] if command == "recommend-batch" else ["--item", "1"]
    result = run_cli(data, command, *given, "--out", str(tmp_path / "out.jsonl"),
                     "--campaign", "nope", check=False)  # fmt: skip
    assert_usage_error(result, "--campaign", "no campaign 'nope'", "known: none yet")
    assert not (data / "stream.db").exists() and " INFO " not in result.stderr
