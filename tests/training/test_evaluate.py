from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
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


def test_cli_json_output(tmp_path: object) -> None:
    from pathlib import Path

    path = Path(str(tmp_path)) / "events.csv"
    t = _table()
    import pyarrow.csv as pacsv

    pacsv.write_csv(t, path)
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = CliRunner().invoke(
        app, ["evaluate", "--dataset", str(path), "--format", "csv", "--recipe", "item-knn",
              "--json"],
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    (row,) = json.loads(out.output)
    assert row["recipe"] == "item-knn" and 0 <= row["metrics"]["hr@10"] <= 1
    table_out = CliRunner().invoke(
        app, ["evaluate", "--dataset", str(path), "--format", "csv", "--recipe", "popularity"]
    )
    assert table_out.exit_code == 0 and "HR@10" in table_out.output
    bad = CliRunner().invoke(app, ["evaluate", "--dataset", str(path), "--recipe", "nope"])
    assert bad.exit_code != 0
    assert np.isfinite(row["train_time_s"])
