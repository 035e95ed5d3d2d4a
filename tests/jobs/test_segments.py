"""Item-affinity segments: users whose served scores favour the items come first; users who
already bought them, or have nothing to score, are in no segment."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from streamrec.errors import NotFoundError
from streamrec.jobs import item_affinity, write_segment
from streamrec.runtime import Runtime
from streamrec.serving.batch import BatchScorer
from tests.factories import make_event
from tests.jobs.conftest import N_USERS

USERS = [f"u{k}" for k in range(N_USERS)] + ["nobody", "buyer"]


def test_the_segment_is_the_users_with_the_highest_mean_score(served: Runtime) -> None:
    service = served.recommendations
    target = service.space.ids([0, 1])
    served.event_log.append([make_event("buyer", t, "purchase") for t in target])
    served.make_runner("realtime").drain()
    segment = item_affinity(service, target, USERS, 10)
    assert len(segment) == 10 and "nobody" not in dict(segment)
    assert "buyer" not in dict(segment)  # bought both: nothing left to recommend to them
    means = {}
    for user in BatchScorer(service).scores(USERS):
        if user.personal is not None and not user.blocked[[0, 1]].all():
            usable = [c for c in (0, 1) if not user.blocked[c]]
            means[user.user_id] = float(np.mean(user.personal.scores[usable]))
    expected = sorted(means.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    assert [u for u, _ in segment] == [u for u, _ in expected]
    assert [s for _, s in segment] == pytest.approx([s for _, s in expected])


def test_an_unknown_item_is_refused(served: Runtime) -> None:
    with pytest.raises(NotFoundError, match="never-seen"):
        item_affinity(served.recommendations, ["never-seen"], USERS, 5)


def test_the_segment_file_is_one_line_per_user_best_first(tmp_path: Path) -> None:
    path = tmp_path / "seg.jsonl"
    write_segment(path, [("a", 2.0), ("b", 1.0)])
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert rows == [{"user_id": "a", "score": 2.0}, {"user_id": "b", "score": 1.0}]
    assert [p.name for p in tmp_path.iterdir()] == ["seg.jsonl"]
