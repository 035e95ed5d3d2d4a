"""Attribution end to end over HTTP: served recommendations are recorded on the stream, the
attribution group counts what they earned, GET /v1/metrics/attribution and /metrics show it,
and the lake has them as the recommendations table."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from streamrec.lake import LakeReader
from streamrec.runtime import Runtime
from tests.conftest import ADMIN, AUTH, drain


def post(client: TestClient, *events: dict[str, object]) -> None:
    response = client.post("/v1/events", json={"events": list(events)}, headers=AUTH)
    assert response.status_code == 202, response.text


def wait_recorded(runtime: Runtime, count: int) -> None:
    """Recording is queued off the request path: wait for the stream to confirm it."""
    deadline = time.monotonic() + 10
    while runtime.recorder.recorded < count and time.monotonic() < deadline:
        time.sleep(0.01)
    assert runtime.recorder.recorded == count


@pytest.fixture
def shown(client: TestClient, runtime: Runtime) -> dict[str, object]:
    """u1 is shown popular items (a, b, c by popularity) once."""
    post(client, *({"user_id": f"p{k}", "item_id": i} for k in range(3) for i in "abc"))
    post(client, {"user_id": "p9", "item_id": "a"}, {"user_id": "p9", "item_id": "b"})
    drain(runtime, "realtime")
    body = client.get("/v1/recommendations/u1", params={"n": 3}).json()
    assert [i["item_id"] for i in body["items"]] == ["a", "b", "c"]
    return body


def test_conversions_reach_the_attribution_metrics(
    client: TestClient, runtime: Runtime, shown: dict[str, object]
) -> None:
    post(
        client,
        {
            "user_id": "u1",
            "item_id": "a",
            "event_type": "click",
            "recommendation_id": shown["recommendation_id"],
        },
        {"user_id": "u1", "item_id": "b", "event_type": "purchase", "event_value": 12.5},
        {"user_id": "u2", "item_id": "a", "event_type": "click"},
    )
    wait_recorded(runtime, 1)
    drain(runtime)
    body = client.get("/v1/metrics/attribution", headers=ADMIN).json()
    assert body["interval_s"] == 900 and len(body["intervals"]) == 1
    row = body["intervals"][0]
    assert row["campaign"] == "default"
    assert (row["recommendations"], row["items_shown"], row["clicks"]) == (1, 3, 1)
    assert row["conversions"] == {"click": 1, "add_to_cart": 0, "purchase": 1}
    assert row["revenue"] == 12.5 and row["ctr"] == pytest.approx(1 / 3)
    text = client.get("/metrics").text
    assert (
        'streamrec_attribution_conversions_total{campaign="default",event_type="click"} 1.0' in text
    )
    assert 'streamrec_attribution_revenue_total{campaign="default"} 12.5' in text


def test_every_recommending_route_is_recorded(
    client: TestClient, runtime: Runtime, shown: dict[str, object]
) -> None:
    similar = client.get("/v1/items/a/similar")
    assert len(similar.json()["recommendation_id"]) == 32
    rank = client.post("/v1/rank", json={"user_id": "u1", "item_ids": ["c", "a"]}, headers=AUTH)
    assert rank.status_code == 200
    assert client.get("/recommendation/u1").status_code == 200
    wait_recorded(runtime, 4)
    drain(runtime, "lake")
    routes = (
        LakeReader(runtime.settings.lake_location)
        .query("SELECT route, campaign, user_id, items FROM recommendations ORDER BY served_at")
        .to_pylist()
    )
    assert [r["route"] for r in routes] == [
        "recommendations",
        "similar",
        "rank",
        "aws-recommendation",
    ]
    assert routes[0] == {
        "route": "recommendations",
        "campaign": "default",
        "user_id": "u1",
        "items": ["a", "b", "c"],
    }
    assert routes[1]["user_id"] is None
    events = LakeReader(runtime.settings.lake_location).query(
        "SELECT count(*) AS n FROM events WHERE event_type = '$recommendation'"
    )
    assert events.to_pylist() == [{"n": 0}]


def test_recommendation_records_stay_out_of_user_state(
    client: TestClient, runtime: Runtime, shown: dict[str, object]
) -> None:
    wait_recorded(runtime, 1)
    drain(runtime)
    assert runtime.user_state.recent_events("u1", 10) == []
    committed = runtime.event_log.status(["realtime"])[0]
    assert committed.lag("realtime") == 0  # the commit moved past the record


def test_clients_cannot_send_the_reserved_type(client: TestClient) -> None:
    response = client.post(
        "/v1/events",
        json={"user_id": "u", "item_id": "i", "event_type": "$recommendation"},
        headers=AUTH,
    )
    assert response.status_code == 400 and response.json()["field"] == "event_type"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"interval": "15s"}, "interval"),
        ({"from": "yesterday"}, "from"),
        ({"from": "100", "to": "50"}, "to"),
        ({"from": "0", "to": "1e9", "interval": "1m"}, "interval"),
    ],
)
def test_bad_queries_are_400(client: TestClient, params: dict[str, str], field: str) -> None:
    response = client.get("/v1/metrics/attribution", params=params, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == field


def test_admin_only(client: TestClient) -> None:
    assert client.get("/v1/metrics/attribution").status_code == 401
