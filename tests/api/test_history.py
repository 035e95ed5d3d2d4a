"""History routes, user erasure, status, health and metrics."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.runtime import Runtime
from tests.conftest import ADMIN, AUTH, RuntimeFactory, drain


def post(client: TestClient, *events: dict[str, object]) -> None:
    r = client.post("/v1/events", json={"events": list(events)}, headers=AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == len(events)


def test_history_newest_first_with_counts_and_filter(client: TestClient, runtime: Runtime) -> None:
    post(
        client,
        {"user_id": "u", "item_id": "a", "timestamp": 100},
        {"user_id": "u", "item_id": "b", "timestamp": 200},
        {"user_id": "u", "item_id": "a", "event_type": "purchase", "timestamp": 300},
    )
    drain(runtime, "history")
    items = client.get("/v1/users/u/history").json()["items"]
    assert [(i["item_id"], i["event_type"], i["count"], i["last_seen"]) for i in items] == [
        ("a", "purchase", 2, 300.0),
        ("b", "view", 1, 200.0),
    ]
    only = client.get("/v1/users/u/history?event_type=view&limit=1").json()["items"]
    assert [i["item_id"] for i in only] == ["b"]


def test_history_parameter_errors(client: TestClient) -> None:
    for query in ("limit=0", "limit=501", "limit=x"):
        r = client.get(f"/v1/users/u/history?{query}")
        assert r.status_code == 400 and r.json()["field"] == "limit"


def test_history_off_is_a_404(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(recently_visited_items=False)
    assert "history" not in runtime.enabled_groups()
    with TestClient(create_app(runtime)) as client:
        r = client.get("/v1/users/u/history")
        assert r.status_code == 404 and "recently_visited_items" in r.json()["error"]
        assert client.get("/history/u").status_code == 404


def test_delete_user_needs_admin_and_erases(client: TestClient, runtime: Runtime) -> None:
    post(client, {"user_id": "u", "item_id": "a"}, {"user_id": "v", "item_id": "a"})
    drain(runtime, "history", "realtime")
    assert client.delete("/v1/users/u").status_code == 401
    assert client.delete("/v1/users/u", headers={"Authorization": "Bearer nope"}).status_code == 403
    r = client.delete("/v1/users/u", headers=ADMIN)
    assert r.status_code == 200 and r.json()["counts"]["history_rows_deleted"] == 1
    assert client.get("/v1/users/u/history").json()["items"] == []
    assert runtime.user_state.recent_events("u", 10) == []
    assert len(client.get("/v1/users/v/history").json()["items"]) == 1


def test_admin_routes_refuse_all_without_admin_key(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(admin_key=None)
    with TestClient(create_app(runtime)) as client:
        r = client.delete("/v1/users/u", headers={"Authorization": "Bearer anything"})
        assert r.status_code == 403 and "no admin_key" in r.json()["error"]
        bare = client.delete("/v1/users/u")  # no header either: told why, not asked for a key
        assert bare.status_code == 403 and bare.json()["field"] == "admin_key"


def test_status_reports_heads_and_lag(client: TestClient, runtime: Runtime) -> None:
    post(client, *[{"user_id": f"u{i}", "item_id": "a"} for i in range(5)])
    status = client.get("/v1/status").json()
    assert status["shards"][0]["head"] == 5
    assert status["shards"][0]["groups"]["history"] == {"committed": 0, "lag": 5}
    assert status["events"]["accepted"] == 5 and status["events"]["rejected"] == 0
    assert status["events"]["in_stream"] == 5
    drain(runtime)
    status = client.get("/v1/status").json()
    assert status["shards"][0]["groups"]["history"]["lag"] == 0
    assert status["lake"]["enabled"] is True


def test_health_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    post(client, {"user_id": "u", "item_id": "a", "event_type": "click"})
    text = client.get("/metrics").text
    assert 'streamrec_events_accepted_total{event_type="click"} 1.0' in text
    assert 'route="/v1/events"' in text
    assert 'streamrec_consumer_lag{group="history",shard="0"} 1.0' in text


def test_openapi_documents_the_routes(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    for path in (
        "/v1/events",
        "/v1/users/{user_id}/history",
        "/interaction",
        "/history/{userId}",
        "/recommendation/{userId}",
        "/v1/status",
    ):
        assert path in spec["paths"]
