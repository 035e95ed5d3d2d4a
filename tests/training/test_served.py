"""The served evaluation: split, import, train, and what the service (and HTTP) returns."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

import numpy as np
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.lake.reader import LakeReader
from streamrec.runtime import Runtime
from streamrec.synthetic import generate_interactions
from streamrec.training.intervals import bootstrap_intervals
from streamrec.training.served import (
    RecipeRun,
    evaluate_run,
    evaluate_served,
    parse_recipe_runs,
    target_codes,
)
from streamrec.training.served_data import import_training, served_settings, split_events


def synthetic() -> pa.Table:
    return generate_interactions(n_users=120, n_items=90, n_events=2_400, seed=5)


def small_table() -> pa.Table:
    return pa.table(
        {
            "user_id": ["u1", "u1", "u1", "u1", "u2", "u2", "u3", "u3", "u3"],
            "item_id": ["a", "b", "a", "c", "a", "b", "c", "c", "z"],
            "timestamp": [1.0, 2.0, 3.0, 4.0, 1.0, 2.0, 5.0, 6.0, 7.0],
            "event_type": ["view", "purchase", "view", "view", "view", "view", "view", "view",
                           "view"],
        }
    )  # fmt: skip


def test_split_by_protocol() -> None:
    lastout = split_events(small_table(), "leave-last-out")
    assert (lastout.users, lastout.targets) == (["u1"], ["c"])  # u3 has 2 distinct items
    assert len(lastout.train) == 6  # u1's repeated a and u3's repeated c dropped, c held out
    nextev = split_events(small_table(), "next-event")
    assert (nextev.users, nextev.targets) == (["u1", "u3"], ["c", "z"])
    assert len(nextev.train) == 7  # repeats kept
    stamps = nextev.train.column("timestamp").to_numpy()
    assert (np.diff(stamps) >= 0).all()  # imported in time order
    _, codes = target_codes(nextev)
    assert codes.tolist()[1] == -1  # z never occurs in training: a miss
    with pytest.raises(Exception, match="protocol"):
        split_events(small_table(), "random")


def test_settings_exclude_every_training_item_only_under_leave_last_out(tmp_path: Path) -> None:
    lastout = served_settings(tmp_path, split_events(small_table(), "leave-last-out"))
    assert lastout.exclude_seen_event_types == ("purchase", "view")
    nextev = served_settings(tmp_path, split_events(small_table(), "next-event"))
    assert nextev.exclude_seen_event_types == ("purchase", "rating")  # the serving defaults
    assert nextev.data_dir == tmp_path


def test_import_fills_the_stores_and_the_stream_state(tmp_path: Path) -> None:
    split = split_events(synthetic(), "next-event")
    runtime = Runtime(served_settings(tmp_path / "data", split))
    try:
        report = import_training(runtime, split, tmp_path)
        assert report.accepted == len(split.train)
        lake = LakeReader(runtime.settings.lake_location).read_interactions()
        assert len(lake) == len(split.train)
        user = split.users[0]
        mine = split.train.filter(pa.compute.equal(split.train.column("user_id"), user))
        events = runtime.user_state.recent_events(user, 1000)
        assert [e.item_id for e in events] == mine.column("item_id").to_pylist()[-200:]
        assert runtime.recommendations.stream.events_seen == len(split.train)
    finally:
        runtime.close()


def test_import_without_a_running_server_leaves_the_stream_state_alone(tmp_path: Path) -> None:
    split = split_events(synthetic(), "next-event")
    runtime = Runtime(served_settings(tmp_path / "data", split))
    try:
        import_training(runtime, split, tmp_path, feed=False)
        assert runtime.recommendations.stream.events_seen == 0
        assert runtime.user_state.recent_events(split.users[0], 5)  # the store has them
    finally:
        runtime.close()


@pytest.mark.parametrize(("protocol", "recipe"), [("next-event", "hybrid"),
                                                   ("leave-last-out", "item-knn")])  # fmt: skip
def test_evaluate_figure_is_the_http_figure(tmp_path: Path, protocol: str, recipe: str) -> None:
    split = split_events(synthetic(), protocol)
    runtime = Runtime(served_settings(tmp_path / "data", split))
    try:
        with TestClient(create_app(runtime)) as client:  # the API is up while the import runs
            import_training(runtime, split, tmp_path)
            result = evaluate_run(runtime, split, RecipeRun(recipe), seed=3)
            items, targets = target_codes(split)
            http = np.full((len(split.users), 10), -1, dtype=np.int64)
            for row, user in enumerate(split.users):
                answer = client.get(f"/v1/recommendations/{quote(user, safe='')}?n=10")
                assert answer.status_code == 200
                assert answer.json()["model"]["version"] == result.version
                ids = [item["item_id"] for item in answer.json()["items"]]
                codes = items.indices(ids).astype(np.int64)
                http[row, : codes.size] = np.where(codes >= 0, codes, -2)
    finally:
        runtime.close()
    assert result.error is None and result.n_test_users == len(split.users) > 50
    assert bootstrap_intervals(http, targets, seed=3) == result.served
    assert result.served["hr@10"].value > 0.1  # planted structure: far above chance (10/90)


def test_a_variant_is_a_recipe_with_its_parameters() -> None:
    run = parse_recipe_runs(["hybrid:sequence"])[0]
    assert run == RecipeRun("hybrid", {"sequence_budget_s": 300.0})
    assert run.label == "hybrid:sequence" and RecipeRun("hybrid").label == "hybrid"


def test_evaluate_served_runs_each_recipe_in_one_data_dir(tmp_path: Path) -> None:
    runs = parse_recipe_runs(["popularity", "recent-distinct", "ease:tuned"])
    assert runs[2] == RecipeRun("ease", {"tune": True}) and runs[2].label == "ease:tuned"
    lines: list[str] = []
    results = evaluate_served(
        synthetic(), "next-event", runs, workdir=tmp_path, progress=lines.append
    )
    assert [r.recipe for r in results] == ["popularity", "recent-distinct", "ease:tuned"]
    assert len({r.version for r in results}) == 3
    for r in results:
        assert r.error is None, r.error
        hr = r.served["hr@10"]
        assert 0.0 <= hr.low <= hr.value <= hr.high <= 1.0
        assert r.model_only["ndcg@10"].value <= r.model_only["hr@10"].value
        assert r.train_time_s > 0
    assert "imported" in lines[0] and len(lines) == 4
    # repeats are frequent in the synthetic sessions: the user's own items beat popularity
    by = {r.recipe: r.served["hr@10"].value for r in results}
    assert by["recent-distinct"] > by["popularity"]
    # each later recipe against the first, over the same users
    assert not results[0].paired and results[0].paired_with is None
    for r in results[1:]:
        assert r.paired_with == "popularity"
        diff = r.paired["hr@10"]
        assert diff.value == pytest.approx(r.served["hr@10"].value - by["popularity"])
        assert diff.low <= diff.value <= diff.high
    assert results[1].paired["hr@10"].low > 0  # recent-distinct is clearly better


def test_a_server_started_on_the_evaluated_data_dir_serves_the_same_figure(tmp_path: Path) -> None:
    """`streamrec serve` started after `import` and `train --activate`: a new process on the
    same data dir answers over HTTP exactly what the evaluation measured."""
    table = synthetic()
    (result,) = evaluate_served(
        table, "next-event", [RecipeRun("hybrid")], seed=2, workdir=tmp_path,
        restart_after_import=True,
    )  # fmt: skip
    split = split_events(table, "next-event")
    items, targets = target_codes(split)
    runtime = Runtime(served_settings(tmp_path / "data", split))
    try:
        with TestClient(create_app(runtime)) as client:
            http = np.full((len(split.users), 10), -1, dtype=np.int64)
            for row, user in enumerate(split.users):
                answer = client.get(f"/v1/recommendations/{quote(user, safe='')}", params={"n": 10})
                assert answer.json()["model"]["version"] == result.version
                codes = items.indices([i["item_id"] for i in answer.json()["items"]])
                http[row, : codes.size] = np.where(codes >= 0, codes, -2)
    finally:
        runtime.close()
    assert bootstrap_intervals(http, targets, seed=2) == result.served
