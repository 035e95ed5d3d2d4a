"""PUT /v1/items/{id}, POST /v1/items (admin) and GET /v1/items/{id}."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamrec.runtime import Runtime
from tests.conftest import ADMIN, AUTH, RuntimeFactory, drain


def test_put_then_get(client: TestClient) -> None:
    body = {"title": "Kettle", "categories": ["Kitchen"], "properties": {"price": 20},
            "created_at": 1700000000}  # fmt: skip
    put = client.put("/v1/items/k1", json=body, headers=ADMIN)
    assert put.status_code == 200
    got = client.get("/v1/items/k1").json()
    assert got == {"item_id": "k1", **body, "hidden": False}


def test_post_batch(client: TestClient) -> None:
    items = [{"item_id": f"i{k}", "title": f"Item {k}"} for k in range(500)]
    response = client.post("/v1/items", json={"items": items}, headers=ADMIN)
    assert response.status_code == 200 and response.json() == {"upserted": 500}
    assert client.get("/v1/items/i499").json()["title"] == "Item 499"
    bare = client.post("/v1/items", json=[{"item_id": "x"}], headers=ADMIN)
    assert bare.json() == {"upserted": 1}


def test_unknown_item_is_404_naming_the_path_parameter(client: TestClient) -> None:
    response = client.get("/v1/items/nope")
    assert response.status_code == 404 and "nope" in response.json()["error"]
    assert response.json()["field"] == "item_id"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"title": ["x"]}, "title"),
        ({"categories": "Kitchen"}, "categories"),
        ({"categories": [""]}, "categories[0]"),
        ({"properties": {"a": [1]}}, "properties.a"),
        ({"hidden": "no"}, "hidden"),
        ({"created_at": "soon"}, "created_at"),
        ({"item_id": "different"}, "item_id"),
        ({"price": 3}, "price"),
        ([], "item"),
    ],
)
def test_put_errors_name_the_field(client: TestClient, body: object, field: str) -> None:
    response = client.put("/v1/items/k1", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == field


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"items": []}, "items"),
        ({"items": [{"item_id": str(k)} for k in range(501)]}, "items"),
        ({"items": [{"item_id": "a"}, {"title": "no id"}]}, "items[1].item_id"),
        ({"items": [{"item_id": "a", "hidden": 1}]}, "items[0].hidden"),
        ({"things": []}, "items"),
    ],
)
def test_post_errors_name_the_item(client: TestClient, body: object, field: str) -> None:
    response = client.post("/v1/items", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == field
    assert client.get("/v1/items/a").status_code == 404  # all or nothing


def test_body_errors(client: TestClient) -> None:
    bad_json = client.put(
        "/v1/items/k1", content=b"{", headers={**ADMIN, "content-type": "application/json"}
    )
    assert bad_json.status_code == 400
    wrong_type = client.put(
        "/v1/items/k1", content=b"{}", headers={**ADMIN, "content-type": "text/csv"}
    )
    assert wrong_type.status_code == 415


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 403), (AUTH, 401)],
)
def test_writes_need_the_admin_key(
    client: TestClient, headers: dict[str, str], status: int
) -> None:
    assert client.put("/v1/items/k1", json={}, headers=headers).status_code == status
    assert (
        client.post("/v1/items", json={"items": [{"item_id": "a"}]}, headers=headers).status_code
        == status
    )


def test_without_an_admin_key_writes_are_refused(make_runtime: RuntimeFactory) -> None:
    from streamrec.api.app import create_app

    runtime = make_runtime(admin_key=None)
    with TestClient(create_app(runtime)) as client:
        assert client.put("/v1/items/k1", json={}, headers=ADMIN).status_code == 403


def test_hidden_item_is_never_recommended(client: TestClient, runtime: Runtime) -> None:
    client.post("/v1/events", json={"events": [
        {"user_id": f"u{k}", "item_id": item} for k in range(3) for item in ("a", "b")
    ]}, headers=AUTH)  # fmt: skip
    drain(runtime, "realtime")
    assert {i["item_id"] for i in client.get("/v1/popular").json()["items"]} == {"a", "b"}
    client.put("/v1/items/a", json={"hidden": True}, headers=ADMIN)
    assert [i["item_id"] for i in client.get("/v1/popular").json()["items"]] == ["b"]
    recs = client.get("/v1/recommendations/u0").json()["items"]
    assert "a" not in [i["item_id"] for i in recs]


def test_lookup_of_several_items_names_the_missing_ones(client: TestClient) -> None:
    client.post("/v1/items", json=[{"item_id": "a", "title": "A"}, {"item_id": "b"}], headers=ADMIN)
    body = client.get("/v1/items?id=b&id=50&id=a&id=b").json()
    assert [it["item_id"] for it in body["items"]] == ["b", "a"]
    assert body["items"][1]["title"] == "A" and body["missing"] == ["50"]


@pytest.mark.parametrize(
    ("query", "field"), [("", "id"), ("?" + "&".join(["id=x"] * 101), "id"), ("?id=", "id[0]")]
)
def test_lookup_refuses_bad_id_lists(client: TestClient, query: str, field: str) -> None:
    response = client.get(f"/v1/items{query}")
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
