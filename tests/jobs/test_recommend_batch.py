"""recommend-batch: one line per user, equal to the served answer, resumable after a crash."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from streamrec.errors import ValidationError
from streamrec.jobs import read_users, recommend_batch
from streamrec.runtime import Runtime
from tests.jobs.conftest import N_USERS

USERS = [f"u{k}" for k in range(N_USERS)] + ["nobody"]


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_users_are_read_plain_or_as_personalize_json() -> None:
    text = ["u1\n", "\n", '{"userId": "u2"}\n', '{"user_id": "u3"}', "u1\n"]
    assert read_users(text) == ["u1", "u2", "u3"]
    with pytest.raises(ValidationError, match="line 1"):
        read_users(['{"userId": 7}'])
    with pytest.raises(ValidationError, match="line 2"):
        read_users(["u1", "{not json"])


def test_each_line_is_the_served_answer(served: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    seen: list[int] = []
    outcome = recommend_batch(served.recommendations, USERS, out, 5, progress=seen.append)
    assert (outcome.written, outcome.skipped) == (len(USERS), 0)
    assert seen[-1] == len(USERS)
    got = {line["user_id"]: line for line in lines(out)}
    assert list(got) == USERS
    for user in USERS:
        want = served.recommendations.recommend(user, 5)
        assert got[user]["model"] == want.model_json()
        items = got[user]["items"]
        assert isinstance(items, list)
        # the batch job's lines carry no per-item reasons (README: why each item is there)
        expected = [
            {k: v for k, v in i.items() if k != "reason"}
            for i in served.recommendations.decorate(want)
        ]
        assert [i.pop("score") for i in items] == pytest.approx([i.pop("score") for i in expected])
        assert items == expected  # ids in order, with the catalogue's metadata
        assert len(str(got[user]["recommendation_id"])) == 32
    assert any("title" in i for line in got.values() for i in line["items"])  # type: ignore[attr-defined]


def test_a_crashed_job_resumes_without_repeating_a_user(
    served: Runtime, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("streamrec.serving.batch.MAX_CHUNK", 4)
    out = tmp_path / "out.jsonl"
    recommend_batch(served.recommendations, USERS[:8], out, 3)
    with out.open("ab") as fh:
        fh.write(b'{"user_id": "u8", "mod')  # the crash cut the next chunk's first line
    outcome = recommend_batch(served.recommendations, USERS, out, 3)
    assert (outcome.written, outcome.skipped) == (len(USERS) - 8, 8)
    assert [line["user_id"] for line in lines(out)] == USERS


def test_an_output_that_is_not_a_batch_answer_is_refused(served: Runtime, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.write_text('{"something": "else"}\n')
    with pytest.raises(ValidationError, match="out"):
        recommend_batch(served.recommendations, USERS, out, 3)
