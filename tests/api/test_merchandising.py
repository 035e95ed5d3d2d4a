"""GET /v1/items/{id}/bought-together, /also-viewed and /v1/popular?event_type=&window= through
the HTTP app with a real Runtime: what they return, filters, hidden items, validation."""

from __future__ import annotations

import time
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamrec.catalogue import Item
from streamrec.runtime import Runtime
from tests.conftest import AUTH, RuntimeFactory, drain


@pytest.fixture
def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime(stream_item_min_users=1)  # every item counts from its first event


def send(client: TestClient, runtime: Runtime, events: list[dict[str, Any]]) -> None:
    response = client.post("/v1/events", json={"events": events}, headers=AUTH)
    assert response.status_code == 202 and response.json()["accepted"] == len(events)
    drain(runtime, "realtime")


def event(user: str, item: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {"user_id": user, "item_id": item, "event_type": kind, **extra}


@pytest.fixture
def shop(client: TestClient, runtime: Runtime) -> TestClient:
    now = time.time()
    events = [
        event("u1", "tent", "purchase", session_id="s1"),
        event("u1", "stove", "purchase", session_id="s1"),
        event("u1", "pegs", "purchase", session_id="s1"),
        event("u2", "tent", "purchase", session_id="s2"),
        event("u2", "stove", "purchase", session_id="s2"),
        event("u1", "kayak", "purchase", session_id="s3"),  # another order of the same user
        event("u3", "tent", "view"),
        event("u3", "boots", "view"),
        event("u4", "tent", "view"),
        event("u4", "boots", "view"),
        event("u4", "map", "view"),
        event("u5", "old", "purchase", timestamp=now - 3 * 3_600),
        event("u6", "old", "purchase", timestamp=now - 3 * 3_600 + 1),
    ]
    send(client, runtime, events)
    return client


def ids(body: dict[str, Any]) -> list[str]:
    return [i["item_id"] for i in body["items"]]


def test_bought_together_returns_items_of_the_same_orders_only(shop: TestClient) -> None:
    body = shop.get("/v1/items/tent/bought-together").json()
    assert body["item_id"] == "tent"
    assert body["model"] == {"recipe": "bought-together", "version": None}
    assert ids(body) == ["stove", "pegs"]  # stove in two orders, pegs in one; kayak in none
    assert body["items"][0]["score"] == 2.0
    assert {str(i["reason"]) for i in body["items"]} == {
        str({"type": "similar_to", "item_id": "tent"})
    }


def test_also_viewed_returns_what_the_same_customers_viewed(shop: TestClient) -> None:
    body = shop.get("/v1/items/tent/also-viewed", params={"n": 5}).json()
    assert ids(body) == ["boots", "map"]
    assert [i["reason"] for i in body["items"]] == [{"type": "similar_to", "item_id": "tent"}] * 2
    assert shop.get("/v1/items/kayak/also-viewed").json()["items"] == []


def test_best_sellers_and_most_viewed_in_a_window(shop: TestClient) -> None:
    sellers = shop.get("/v1/popular", params={"event_type": "purchase", "window": "1h"}).json()
    assert ids(sellers)[:2] == ["tent", "stove"] and "old" not in ids(sellers)
    day = shop.get("/v1/popular", params={"event_type": "purchase", "window": "1d"}).json()
    assert "old" in ids(day)
    assert {i["reason"]["type"] for i in day["items"]} == {"popular"}
    viewed = shop.get("/v1/popular", params={"event_type": "view", "window": "7d"}).json()
    assert ids(viewed)[:2] == ["tent", "boots"] and set(ids(viewed)) == {"tent", "boots", "map"}


def test_filters_and_hidden_items_are_honoured(shop: TestClient, runtime: Runtime) -> None:
    runtime.catalogue.upsert([Item("stove", categories=("Cooking",)), Item("pegs", hidden=True)])
    runtime.recommendations.catalogue.invalidate()
    assert ids(shop.get("/v1/items/tent/bought-together").json()) == ["stove"]
    flt = 'EXCLUDE ItemID WHERE Items.categories IN ("Cooking")'
    assert shop.get("/v1/items/tent/bought-together", params={"filter": flt}).json()["items"] == []
    params = {"event_type": "purchase", "window": "1h", "filter": flt}
    assert "stove" not in ids(shop.get("/v1/popular", params=params).json())
    assert "pegs" not in ids(shop.get("/v1/popular", params={"window": "1h"}).json())
    assert "pegs" not in ids(shop.get("/v1/popular").json())


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"window": "0h"}, "window"),
        ({"window": "91d"}, "window"),
        ({"window": "2w"}, "window"),
        ({"window": "3000h"}, "window"),
        ({"event_type": "teleport"}, "event_type"),
        ({"filter": "NOT A FILTER"}, "filter"),
    ],
)
def test_bad_popular_parameters_are_400_naming_the_field(
    client: TestClient, params: dict[str, str], field: str
) -> None:
    response = client.get("/v1/popular", params=params)
    assert response.status_code == 400 and response.json()["field"] == field


def test_an_unknown_item_is_404(client: TestClient) -> None:
    for route in ("bought-together", "also-viewed"):
        response = client.get(f"/v1/items/never-seen/{route}")
        assert response.status_code == 404 and "never-seen" in response.json()["error"]
        assert response.json()["field"] == "item_id"


def test_the_routes_are_in_the_openapi_document(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, schema in [
        ("/v1/items/{item_id}/bought-together", "ItemRecommendations"),
        ("/v1/items/{item_id}/also-viewed", "ItemRecommendations"),
        ("/v1/popular", "PopularItems"),
    ]:
        operation = document["paths"][path]["get"]
        content = operation["responses"]["200"]["content"]["application/json"]
        assert content["schema"]["$ref"].endswith(schema)
        assert {"n", "filter"} <= {p["name"] for p in operation["parameters"]}
    assert "RecommendedItem" in document["components"]["schemas"]
