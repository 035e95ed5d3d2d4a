"""Per-client rate limiting of the public event routes: 429 with Retry-After, admin key exempt."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.api.ratelimit import TokenBuckets
from streamrec.runtime import Runtime
from tests.conftest import ADMIN, AUTH, RuntimeFactory

EVENT = {"user_id": "u1", "item_id": "i1"}


def test_a_bucket_refills_at_its_rate_up_to_its_burst() -> None:
    buckets = TokenBuckets(rate_per_s=2.0, burst=3)
    assert [buckets.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a", now=0.0) == 0.5  # the next token comes in half a second
    assert buckets.take("b", now=0.0) == 0.0  # clients are counted apart
    assert buckets.take("a", now=0.5) == 0.0
    assert buckets.take("a", now=100.0) == 0.0  # refilled, but never past the burst
    assert [buckets.take("a", now=100.0) for _ in range(3)] == [0.0, 0.0, 0.5]


def test_buckets_are_bounded_in_number() -> None:
    buckets = TokenBuckets(rate_per_s=1.0, burst=1, max_clients=2)
    for client in ("a", "b", "c"):
        buckets.take(client, now=0.0)
    assert buckets.take("a", now=0.0) == 0.0  # "a" was dropped as least recently seen


@pytest.fixture
def limited(make_runtime: RuntimeFactory) -> Iterator[tuple[TestClient, Runtime]]:
    runtime = make_runtime(event_rate_limit_per_s=0.01, event_rate_limit_burst=2)
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        yield client, runtime


def test_a_client_past_its_limit_gets_429_with_retry_after(
    limited: tuple[TestClient, Runtime],
) -> None:
    client, runtime = limited
    assert client.post("/v1/events", json=EVENT, headers=AUTH).status_code == 202
    assert client.post("/interaction", json={"userId": "u", "itemId": "i"}).status_code == 200
    refused = client.post("/v1/events", json=EVENT, headers=AUTH)
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert "too many event requests" in refused.json()["error"]
    assert sum(s.head for s in runtime.event_log.status()) == 2  # nothing of the refused one


def test_server_to_server_requests_with_the_admin_key_are_not_limited(
    limited: tuple[TestClient, Runtime],
) -> None:
    client, _ = limited
    headers = {**AUTH, **ADMIN}
    statuses = {
        client.post("/v1/events", json=EVENT, headers=headers).status_code for _ in range(5)
    }
    assert statuses == {202}


def test_the_limit_is_off_by_default(client: TestClient) -> None:
    statuses = {client.post("/v1/events", json=EVENT, headers=AUTH).status_code for _ in range(30)}
    assert statuses == {202}
