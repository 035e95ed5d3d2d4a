"""The dashboard's admin JSON: refused without the admin key, and the figures it derives."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from streamrec.api.app import create_app
from streamrec.api.routes.dashboard import bucket_quantile
from streamrec.config import Settings
from streamrec.models.train import train
from streamrec.runtime import Runtime
from streamrec.synthetic import generate_interactions
from tests.conftest import ADMIN, ADMIN_KEY, AUTH, drain
from tests.models.conftest import fill_lake

ROUTES = ("/v1/admin/dashboard", "/v1/admin/dashboard/users/u1")


@pytest.mark.parametrize("path", ROUTES)
def test_dashboard_data_needs_the_admin_key(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer nope"}).status_code == 403
    assert client.get(path, headers=ADMIN).status_code == 200


def test_snapshot_counts_events_by_type_and_reports_lag(
    client: TestClient, runtime: Runtime
) -> None:
    events = [
        {"user_id": f"u{i % 3}", "item_id": f"i{i % 5}", "event_type": t}
        for i, t in enumerate(["view"] * 6 + ["purchase"] * 2)
    ]
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202
    before = client.get("/v1/admin/dashboard", headers=ADMIN).json()
    assert before["events"]["accepted_by_type"] == {"view": 6, "purchase": 2}
    assert before["events"]["accepted_total"] == 8
    lag = {(row["group"], row["shard"]): row for row in before["lag"]}
    assert set(lag) == {(g, 0) for g in runtime.enabled_groups()}
    assert all(
        row["head"] == 8 and row["lag"] == row["head"] - row["committed"] for row in lag.values()
    )
    drain(runtime)
    after = client.get("/v1/admin/dashboard", headers=ADMIN).json()
    assert all(row["lag"] == 0 for row in after["lag"])
    routes = {r["route"]: r for r in after["routes"]}
    assert routes["POST /v1/events"]["count"] == 1
    assert 0 < routes["POST /v1/events"]["p50_ms"] <= routes["POST /v1/events"]["p99_ms"]


def test_user_lookup_gives_history_and_recommendations(
    client: TestClient, runtime: Runtime
) -> None:
    client.post("/v1/events", json={"user_id": "u1", "item_id": "i9"}, headers=AUTH)
    drain(runtime)
    body = client.get("/v1/admin/dashboard/users/u1", headers=ADMIN).json()
    assert [row["item_id"] for row in body["history"]["items"]] == ["i9"]
    assert "items" in body["recommendations"]


def test_quantile_of_known_buckets() -> None:
    # 100 observations: 50 in (0, 1], 40 in (1, 2], 10 in (2, 4].
    buckets = [(1.0, 50.0), (2.0, 90.0), (4.0, 100.0), (math.inf, 100.0)]
    assert bucket_quantile(0.5, buckets) == pytest.approx(1.0)
    assert bucket_quantile(0.7, buckets) == pytest.approx(1.5)
    assert bucket_quantile(0.99, buckets) == pytest.approx(3.8)
    assert bucket_quantile(0.5, [(1.0, 0.0), (math.inf, 0.0)]) is None
    assert bucket_quantile(0.99, [(1.0, 1.0), (math.inf, 5.0)]) == 1.0  # +Inf: largest bound


@given(
    counts=st.lists(st.integers(0, 1000), min_size=1, max_size=12),
    q1=st.floats(0.0, 1.0),
    q2=st.floats(0.0, 1.0),
)
def test_quantiles_are_monotone_and_inside_the_bucket_range(
    counts: list[int], q1: float, q2: float
) -> None:
    bounds = [0.001 * 2**i for i in range(len(counts))]
    cumulative = [float(sum(counts[: i + 1])) for i in range(len(counts))]
    buckets = [*zip(bounds, cumulative, strict=True), (math.inf, cumulative[-1])]
    low, high = sorted((q1, q2))
    a, b = bucket_quantile(low, buckets), bucket_quantile(high, buckets)
    if cumulative[-1] == 0:
        assert a is None and b is None
        return
    assert a is not None and b is not None
    assert 0.0 <= a <= b <= bounds[-1]


def test_models_show_their_metrics_and_the_campaign_they_serve(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", admin_key=ADMIN_KEY, tracking_id="t")
    fill_lake(settings, generate_interactions(n_users=60, n_items=40, n_events=1500, seed=5))
    runtime = Runtime(settings)
    try:
        with TestClient(create_app(runtime)) as client:
            old = train(settings, "popularity", False, registry=runtime.models)["version"]
            new = train(settings, "item-knn", True, registry=runtime.models)["version"]
            body = client.get("/v1/admin/dashboard", headers=ADMIN).json()
    finally:
        runtime.close()
    rows = {m["version"]: m for m in body["models"]}
    assert set(rows) == {old, new}
    assert rows[new]["campaigns"] == ["default"] and rows[old]["campaigns"] == []
    assert rows[new]["recipe"] == "item-knn" and rows[new]["metrics"]["ndcg@10"] > 0
    assert body["serving"] == {"campaign": "default", "version": new, "recipe": "item-knn"}
