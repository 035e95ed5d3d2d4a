"""Tracking-id errors name what the request used: the header, or the beacon's query parameter;
admin errors name the credential, and how to configure one."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from tests.conftest import AUTH, RuntimeFactory

EVENT = {"user_id": "u", "item_id": "i"}


def test_a_wrong_beacon_tracking_id_is_named_as_the_query_parameter(client: TestClient) -> None:
    r = client.post(
        "/v1/events?tracking_id=wrong",
        content=b'{"user_id": "u", "item_id": "i"}',
        headers={"content-type": "text/plain"},
    )
    assert r.status_code == 403
    assert "?tracking_id=" in r.json()["error"] and "header" not in r.json()["error"]
    assert r.json()["field"] == "tracking_id"


def test_a_wrong_header_is_named_as_the_header(client: TestClient) -> None:
    r = client.post("/v1/events", json=EVENT, headers={"X-Tracking-Id": "wrong"})
    assert r.status_code == 403 and "X-Tracking-Id header" in r.json()["error"]
    assert r.json()["field"] == "X-Tracking-Id"


def test_a_missing_tracking_id_names_both_ways(client: TestClient) -> None:
    r = client.post("/v1/events", json=EVENT)
    assert r.status_code == 401
    assert "X-Tracking-Id" in r.json()["error"] and "?tracking_id=" in r.json()["error"]
    assert r.json()["field"] == "X-Tracking-Id"
    assert client.post("/v1/events", json=EVENT, headers=AUTH).status_code == 202


def test_admin_errors_name_the_authorization_header(client: TestClient) -> None:
    missing = client.post("/v1/models/train", json={})
    wrong = client.post("/v1/models/train", json={}, headers={"Authorization": "Bearer wrong"})
    assert (missing.status_code, missing.json()["field"]) == (401, "Authorization")
    assert (wrong.status_code, wrong.json()["field"]) == (403, "Authorization")


def test_disabled_admin_routes_name_the_ways_a_key_is_actually_read(
    make_runtime: RuntimeFactory,
) -> None:
    with TestClient(create_app(make_runtime(admin_key=None))) as client:
        r = client.post("/v1/models/train", json={})
    assert (r.status_code, r.json()["field"]) == (403, "admin_key")
    error = r.json()["error"]
    assert "STREAMREC_ADMIN_KEY" in error and "--config" in error and "STREAMREC_CONFIG" in error
    assert "streamrec.toml" not in error  # no file of that name is read unless given
