"""Ids with '/' (and other reserved characters) round-trip through every route that takes them
as a percent-encoded path segment."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient

from streamrec.runtime import Runtime
from tests.conftest import ADMIN, AUTH, drain

USER = "team/alice"
ITEM = "cat/dog 1?#%"
OTHER = "shelf/2"


def seg(value: str) -> str:
    return quote(value, safe="")


@pytest.fixture
def seeded(client: TestClient, runtime: Runtime) -> TestClient:
    events = [
        {"user_id": USER, "item_id": ITEM},
        {"user_id": USER, "item_id": OTHER},
        {"user_id": "bob/b", "item_id": ITEM},
        {"user_id": "bob/b", "item_id": OTHER},
    ]
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202
    drain(runtime, "history", "realtime")
    return client


def test_history_routes(seeded: TestClient) -> None:
    body = seeded.get(f"/v1/users/{seg(USER)}/history").json()
    assert body["user_id"] == USER and {r["item_id"] for r in body["items"]} == {ITEM, OTHER}
    aws = seeded.get(f"/history/{seg(USER)}").json()
    assert {r["id"] for r in aws} == {ITEM, OTHER}


def test_recommendation_routes(seeded: TestClient) -> None:
    body = seeded.get(f"/v1/recommendations/{seg(USER)}").json()
    assert body["user_id"] == USER and body["model"]["recipe"] != "popularity"
    assert seeded.get(f"/recommendation/{seg(USER)}").status_code == 200
    similar = seeded.get(f"/v1/items/{seg(ITEM)}/similar").json()
    assert [it["item_id"] for it in similar["items"]] == [OTHER]


def test_item_routes(seeded: TestClient) -> None:
    put = seeded.put(f"/v1/items/{seg(ITEM)}", json={"title": "Slashed"}, headers=ADMIN)
    assert put.status_code == 200 and put.json()["item_id"] == ITEM
    assert seeded.get(f"/v1/items/{seg(ITEM)}").json()["title"] == "Slashed"
    assert seeded.get(f"/v1/items?id={seg(ITEM)}").json()["items"][0]["item_id"] == ITEM


def test_admin_routes(seeded: TestClient) -> None:
    lookup = seeded.get(f"/v1/admin/dashboard/users/{seg(USER)}", headers=ADMIN).json()
    assert lookup["user_id"] == USER
    erased = seeded.delete(f"/v1/users/{seg(USER)}", headers=ADMIN).json()
    assert erased["user_id"] == USER and erased["counts"]["history_rows_deleted"] == 2
    assert seeded.get(f"/v1/users/{seg(USER)}/history").json()["items"] == []


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("post", "/v1/users/%ff/aliases", "user_id"),
        ("get", "/v1/users/%ff/history", "user_id"),
        ("get", "/v1/users/a%C3/history", "user_id"),  # a truncated two-byte sequence
        ("get", "/v1/recommendations/%ff", "user_id"),
        ("get", "/v1/recommendations/ok%fe%ff", "user_id"),
        ("get", "/v1/items/%ff", "item_id"),
        ("get", "/v1/items/%ff/similar", "item_id"),
        ("get", "/history/%ff", "userId"),
        ("get", "/recommendation/%ff", "userId"),
        ("get", "/no/such/route/%ff", "path"),
    ],
)
def test_ids_that_are_not_utf8_are_400_naming_the_parameter(
    client: TestClient, method: str, path: str, field: str
) -> None:
    body = {"json": {"anonymous_id": "anon"}} if path.endswith("aliases") else {}
    response = client.request(method, path, headers=AUTH, **body)
    assert response.status_code == 400, response.json()
    assert response.json() == {"error": "is not valid UTF-8 percent-encoding", "field": field}


def test_an_encoded_replacement_character_is_an_ordinary_id(client: TestClient) -> None:
    """U+FFFD sent as UTF-8 (%EF%BF%BD) is a valid id, unlike the bytes servers replace by it."""
    user = "a\ufffd"
    response = client.get(f"/v1/users/{seg(user)}/history")
    assert response.status_code == 200 and response.json()["user_id"] == user
    assert client.get(f"/v1/recommendations/{seg(user)}").status_code == 200
