"""POST /v1/events: acknowledgement, partial batches, and every error the route can give."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.events import MAX_BODY_BYTES
from streamrec.runtime import Runtime
from streamrec.stream.sqlite import SqliteEventLog
from tests.conftest import AUTH, RuntimeFactory, drain


def test_single_event_is_acknowledged_and_durable(client: TestClient, runtime: Runtime) -> None:
    r = client.post(
        "/v1/events", json={"user_id": "u1", "item_id": "i1", "event_type": "click"}, headers=AUTH
    )
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 1 and body["rejected"] == [] and body["event_id"]
    assert sum(s.head for s in runtime.event_log.status()) == 1


def test_batch_accepts_valid_events_and_names_the_bad_ones(client: TestClient) -> None:
    events = [
        {"user_id": "u1", "item_id": "i1"},
        {"user_id": "u1"},
        {"user_id": "u2", "item_id": "i2", "timestamp": time.time() * 1000},
        {"user_id": "u3", "item_id": "i3", "properties": {"nested": {"a": 1}}},
        {"user_id": "u4", "item_id": "i4", "timestamp": "2024-01-02T03:04:05Z", "event_value": 4},
    ]
    r = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert r.status_code == 202
    body = r.json()
    assert body["accepted"] == 2
    errors = {e["index"]: e["error"] for e in body["rejected"]}
    assert errors[1].startswith("item_id")
    assert "milliseconds" in errors[2]
    assert errors[3].startswith("properties.nested")


def test_each_rejected_event_of_a_batch_names_its_field(client: TestClient) -> None:
    events = [{"user_id": "", "item_id": "i1"}, {"user_id": "u1"}, "not an object"]
    r = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert r.status_code == 202
    assert r.json()["rejected"] == [
        {"index": 0, "field": "user_id", "error": "user_id: must be 1-256 characters, got 0"},
        {"index": 1, "field": "item_id", "error": "item_id: is required"},
        {"index": 2, "field": "event", "error": "event: must be a JSON object"},
    ]


def test_single_invalid_event_is_a_400_naming_the_field(client: TestClient) -> None:
    r = client.post("/v1/events", json={"user_id": "x" * 257, "item_id": "i"}, headers=AUTH)
    assert r.status_code == 400
    assert r.json()["field"] == "user_id"
    r = client.post(
        "/v1/events", json={"user_id": "u", "item_id": "i", "colour": "red"}, headers=AUTH
    )
    assert r.status_code == 400 and r.json()["field"] == "colour"
    r = client.post(
        "/v1/events",
        json={"user_id": "u", "item_id": "i", "timestamp": time.time() + 3600},
        headers=AUTH,
    )
    assert r.status_code == 400 and "future" in r.json()["error"]


def test_far_future_timestamps_are_not_called_milliseconds(client: TestClient) -> None:
    for timestamp in ("9999-12-31T23:59:59+14:00", 99999999999999999999999999):
        event = {"user_id": "u", "item_id": "i", "timestamp": timestamp}
        r = client.post("/v1/events", json=event, headers=AUTH)
        assert r.status_code == 400
        assert r.json() == {"error": "is more than 5 minutes in the future", "field": "timestamp"}
    event = {"user_id": "u", "item_id": "i", "timestamp": int(time.time() * 1000)}
    r = client.post("/v1/events", json=event, headers=AUTH)
    assert r.status_code == 400 and "divide by 1000" in r.json()["error"]


def test_tracking_id_is_required_and_checked(client: TestClient) -> None:
    event = {"user_id": "u", "item_id": "i"}
    assert client.post("/v1/events", json=event).status_code == 401
    r = client.post("/v1/events", json=event, headers={"X-Tracking-Id": "wrong"})
    assert r.status_code == 403 and "tracking id" in r.json()["error"]


def test_body_errors(client: TestClient) -> None:
    r = client.post(
        "/v1/events", content=b"{not json", headers={**AUTH, "content-type": "application/json"}
    )
    assert r.status_code == 400 and "malformed JSON" in r.json()["error"]
    r = client.post(
        "/v1/events",
        content=b"user_id=u",
        headers={**AUTH, "content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 415
    big = b'{"user_id": "' + b"u" * MAX_BODY_BYTES + b'", "item_id": "i"}'
    r = client.post("/v1/events", content=big, headers={**AUTH, "content-type": "application/json"})
    assert r.status_code == 413


def test_batch_limits(client: TestClient) -> None:
    r = client.post(
        "/v1/events", json={"events": [{"user_id": "u", "item_id": "i"}] * 501}, headers=AUTH
    )
    assert r.status_code == 400 and r.json()["field"] == "events"
    r = client.post("/v1/events", json={"events": []}, headers=AUTH)
    assert r.status_code == 400
    r = client.post("/v1/events", json={"events": "nope"}, headers=AUTH)
    assert r.status_code == 400
    r = client.post("/v1/events", json=[1, 2], headers=AUTH)
    assert r.status_code == 400 and r.json()["field"] == "event"


def test_overload_is_a_503_with_retry_after(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from streamrec.api.app import create_app

    runtime = make_runtime(max_pending_events=1)
    with TestClient(create_app(runtime)) as client:
        r = client.post(
            "/v1/events", json={"events": [{"user_id": "u", "item_id": "i"}] * 2}, headers=AUTH
        )
    assert r.status_code == 503
    assert r.headers["retry-after"] == "1"


def test_events_reach_history(client: TestClient, runtime: Runtime) -> None:
    client.post("/v1/events", json={"user_id": "u1", "item_id": "i9"}, headers=AUTH)
    drain(runtime, "history")
    r = client.get("/v1/users/u1/history")
    assert [row["item_id"] for row in r.json()["items"]] == ["i9"]


def test_browser_origins_outside_allowed_origins_are_refused(make_runtime) -> None:  # type: ignore[no-untyped-def]
    from streamrec.api.app import create_app

    runtime = make_runtime(allowed_origins=("https://shop.example",))
    event = {"user_id": "u", "item_id": "i"}
    with TestClient(create_app(runtime)) as client:
        ok = client.post(
            "/v1/events", json=event, headers={**AUTH, "Origin": "https://shop.example"}
        )
        assert ok.status_code == 202
        bad = client.post(
            "/v1/events", json=event, headers={**AUTH, "Origin": "https://evil.example"}
        )
        assert bad.status_code == 403 and "allowed_origins" in bad.json()["error"]
        beacon = client.post(
            "/v1/events?tracking_id=" + AUTH["X-Tracking-Id"],
            content=b'{"user_id":"u","item_id":"i"}',
            headers={"content-type": "text/plain", "Origin": "https://evil.example"},
        )
        assert beacon.status_code == 403
        r = client.post(
            "/interaction",
            json={"userId": "u", "itemId": "i"},
            headers={"Origin": "https://evil.example"},
        )
        assert r.status_code == 403
        assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202  # no Origin


# The writer thread is killed on purpose.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_write_the_stream_does_not_confirm_in_time_is_a_503_with_retry_after(
    make_runtime: RuntimeFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    runtime = make_runtime(append_timeout_s=0.2)
    log = runtime.event_log
    assert isinstance(log, SqliteEventLog)
    real_write = log._write_batch

    def die(batch: object, count: int) -> None:
        raise SystemExit  # the writer thread ends without confirming the write

    monkeypatch.setattr(log, "_write_batch", die)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        event = {"user_id": "u1", "item_id": "i1"}
        r = client.post("/v1/events", json=event, headers=AUTH)
        assert r.status_code == 503 and r.headers["retry-after"] == "5"
        assert "did not confirm" in r.json()["error"]
        monkeypatch.setattr(log, "_write_batch", real_write)
        r = client.post("/v1/events", json=event, headers=AUTH)  # the writer is restarted
        assert r.status_code == 202
