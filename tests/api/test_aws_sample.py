"""The AWS sample's routes keep their request and response shapes."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamrec.api.routes.aws import bounded_limit
from streamrec.events import MAX_ID_LENGTH
from streamrec.runtime import Runtime
from tests.conftest import AUTH, drain


def test_interaction_history_and_recommendation(client: TestClient, runtime: Runtime) -> None:
    for item in ("a", "b", "c", "a"):
        r = client.post(
            "/interaction", json={"userId": "u1", "itemId": item, "time": 1_700_000_000}
        )
        assert r.status_code == 200
        assert r.json()["ShardId"] == "shardId-000000000000"
    client.post("/interaction", json={"userId": "u2", "itemId": "a", "type": "click"})
    # Stream-only items are served once two users sent events about them (item admission).
    client.post("/interaction", json={"userId": "u2", "itemId": "b"})
    drain(runtime)
    history = client.get("/history/u1").json()
    assert sorted(h["id"] for h in history) == ["a", "b", "c"]
    assert all(h["viewed"] == 1_700_000_000 for h in history)
    assert client.get("/history/u1?limit=2").json()[:2] == history[:2]
    assert len(client.get("/history/u1?limit=2").json()) == 2
    recs = client.get("/recommendation/u9").json()
    assert recs[0] == {"id": "a"} and {"id": "b"} in recs


def test_interaction_errors_use_the_sample_field_names(client: TestClient) -> None:
    r = client.post("/interaction", json={"userId": "u1"})
    assert r.status_code == 400 and r.json()["field"] == "itemId"
    r = client.post("/interaction", json={"userId": "u1", "itemId": "a", "extra": 1})
    assert r.status_code == 400 and r.json()["field"] == "extra"
    r = client.post("/interaction", json={"userId": "u1", "itemId": "a", "time": "yesterday"})
    assert r.status_code == 400 and r.json()["field"] == "time"


def test_a_tracking_id_is_not_needed_but_a_wrong_one_is_refused(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"userId": "u1", "itemId": "a"}
    assert client.post("/interaction", json=body).status_code == 200
    assert client.post("/interaction", json=body, headers=AUTH).status_code == 200
    wrong_header = client.post("/interaction", json=body, headers={"X-Tracking-Id": "wrong"})
    v1_answer = client.post(
        "/v1/events", json={"user_id": "u1", "item_id": "a"}, headers={"X-Tracking-Id": "wrong"}
    )
    assert wrong_header.status_code == v1_answer.status_code == 403
    assert wrong_header.json() == v1_answer.json()
    assert wrong_header.json()["field"] == "X-Tracking-Id"
    wrong_query = client.post("/interaction?tracking_id=wrong", json=body)
    assert wrong_query.status_code == 403 and wrong_query.json()["field"] == "tracking_id"
    assert sum(s.head for s in runtime.event_log.status()) == 2  # the refused ones not stored


def test_out_of_bounds_limits_fall_back_to_defaults() -> None:
    assert bounded_limit(None, 10, 100) == 10
    assert bounded_limit("0", 10, 100) == 10
    assert bounded_limit("101", 10, 100) == 10
    assert bounded_limit("abc", 10, 100) == 10
    assert bounded_limit("7", 10, 100) == 7


def test_an_unknown_key_is_named_as_sent_with_a_hint(client: TestClient) -> None:
    r = client.post("/interaction", json={"user_id": "u", "itemId": "1"})
    assert r.status_code == 400
    assert r.json() == {
        "error": "is not an interaction field (did you mean userId?)",
        "field": "user_id",
    }
    r = client.post("/interaction", json={"userId": "u", "itemId": "1", "extra": 1})
    assert r.json() == {"error": "is not an interaction field", "field": "extra"}


def test_numeric_ids_are_taken_as_text_as_v1_events_does(
    client: TestClient, runtime: Runtime
) -> None:
    body = {"userId": 5, "itemId": 7, "sessionId": 9, "time": 1_700_000_000}
    assert client.post("/interaction", json=body).status_code == 200
    drain(runtime)
    assert client.get("/history/5").json() == [{"id": "7", "viewed": 1_700_000_000}]
    for field, value in [("userId", 1.5), ("itemId", True), ("sessionId", [1])]:
        r = client.post("/interaction", json={"userId": "u", "itemId": "i", field: value})
        assert r.status_code == 400 and r.json()["field"] == field, (field, r.json())


@pytest.mark.parametrize("route", ["/history", "/recommendation"])
def test_empty_and_over_long_user_ids_are_400(client: TestClient, route: str) -> None:
    for user_id in ("", "u" * (MAX_ID_LENGTH + 1)):
        r = client.get(f"{route}/{user_id}")
        assert r.status_code == 400 and r.json()["field"] == "userId", (user_id, r.json())
    assert client.get(f"{route}/{'u' * MAX_ID_LENGTH}").status_code == 200


def test_recommendation_for_an_unknown_item_is_404(client: TestClient, runtime: Runtime) -> None:
    r = client.get("/recommendation/u?itemId=nope")
    assert r.status_code == 404 and r.json()["field"] == "itemId" and "nope" in r.json()["error"]
    client.post("/interaction", json={"userId": "u", "itemId": "seen"})
    drain(runtime)
    assert client.get("/recommendation/u?itemId=seen").status_code == 200
    assert client.get("/recommendation/u?itemId=").status_code == 200  # as no itemId
    r = client.get(f"/recommendation/u?itemId={'i' * (MAX_ID_LENGTH + 1)}")
    assert r.status_code == 400 and r.json()["field"] == "itemId"
