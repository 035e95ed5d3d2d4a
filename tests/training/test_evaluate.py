from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pytest
import typer
from typer.testing import CliRunner

from streamrec.cli.evaluate import register
from streamrec.synthetic import generate_interactions
from streamrec.training.evaluate import evaluate, prepare


def _table() -> pa.Table:
    return generate_interactions(n_users=200, n_items=150, n_events=5_000, seed=11)


def test_prepare_follows_the_protocol() -> None:
    table = pa.table(
        {
            "user_id": ["u1", "u1", "u1", "u2", "u2", "u1"],
            "item_id": ["a", "b", "a", "a", "c", "z"],
            "timestamp": [1.0, 2.0, 3.0, 1.0, 2.0, 9.0],
        }
    )
    data = prepare(table)
    assert data.test_users.tolist() == [0]  # u1 has 3 distinct items, u2 only 2
    assert data.targets.tolist() == [-1]  # z is unknown to training: counts as a miss
    assert len(data.train) == 4 and data.train.n_items == 3


def test_evaluate_ranks_models_sensibly() -> None:
    results = {r.recipe: r for r in evaluate(_table(), ["popularity", "item-knn", "hybrid"])}
    assert all(r.error is None for r in results.values())
    assert results["hybrid"].n_test_users > 100
    for r in results.values():
        assert 0.0 <= r.metrics["ndcg@10"] <= r.metrics["hr@10"] <= 1.0
    # planted sequential structure: the default recipe must beat popularity clearly
    assert results["hybrid"].metrics["hr@10"] > 2 * results["popularity"].metrics["hr@10"]


def test_evaluate_reports_refusals_instead_of_failing() -> None:
    tiny = pa.table({"user_id": ["a"] * 3, "item_id": ["x", "y", "z"], "timestamp": [1.0, 2, 3]})
    (result,) = evaluate(tiny, ["ease"])
    assert result.error is not None and "at least 10" in result.error


def test_cli_json_output(tmp_path: Path) -> None:
    path = tmp_path / "events.csv"
    pacsv.write_csv(generate_interactions(n_users=100, n_items=80, n_events=2_000, seed=11), path)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = CliRunner().invoke(
        app, ["evaluate", "--dataset", str(path), "--format", "csv", "--recipe",
              "item-knn,recent-cooc", "--protocol", "next-event", "--json", "--seed", "4"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    rows = json.loads(out.output)
    assert [r["recipe"] for r in rows] == ["item-knn", "recent-cooc"]
    for row in rows:
        assert row["protocol"] == "next-event" and row["error"] is None
        served, model = row["served"]["hr@10"], row["model_only"]["ndcg@10"]
        assert 0 <= served["low"] <= served["value"] <= served["high"] <= 1
        assert 0 <= model["value"] <= 1
        assert np.isfinite(row["train_time_s"])
    assert rows[0]["paired_with"] is None and rows[1]["paired_with"] == "item-knn"
    diff = rows[1]["paired"]["ndcg@10"]
    ours, theirs = rows[1]["served"]["ndcg@10"]["value"], rows[0]["served"]["ndcg@10"]["value"]
    assert diff["value"] == pytest.approx(ours - theirs)
    table_out = CliRunner().invoke(
        app, ["evaluate", "--dataset", str(path), "--format", "csv", "--recipe", "popularity"]
    )
    assert table_out.exit_code == 0, table_out.output
    assert "HR@10 [95% CI]" in table_out.output and "leave-last-out" in table_out.output
    assert "paired" not in table_out.output  # one recipe: nothing to pair with
    two = CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["evaluate", "--dataset", str(path), "--recipe", "popularity,recent-distinct"]
    )
    assert two.exit_code == 0, two.output
    assert "NDCG@10 minus popularity's, paired" in two.output
    for bad in (["--recipe", "nope"], ["--recipe", "item-knn:tuned"],
                ["--recipe", "ease:sequence"], ["--protocol", "random"]):  # fmt: skip
        refused = CliRunner().invoke(app, ["evaluate", "--dataset", str(path), *bad])
        assert refused.exit_code != 0
