"""Promotions over HTTP: defined by the operator, a share of a user's slots for items passing a
filter, marked promoted and spread among the others."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamrec.catalogue import Item
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from tests.api.test_recommendations import send
from tests.conftest import ADMIN
from tests.serving.conftest import FakeActive, FakeRegistry, attach, fit_knn

PROMO = "INCLUDE ItemID WHERE Items.categories IN ($CATS)"


@pytest.fixture(scope="module")
def knn_model() -> ItemKNN:
    return fit_knn()


@pytest.fixture
def items(runtime: Runtime, knn_model: ItemKNN) -> list[str]:
    attach(runtime, FakeRegistry(FakeActive("v1", "item-knn", knn_model)))
    assert knn_model.item_vocab is not None
    ids = knn_model.item_vocab.ids()
    runtime.catalogue.upsert([Item(i, categories=("Sale",)) for i in ids[40:50]])
    runtime.recommendations.catalogue.invalidate()
    return ids


def define(client: TestClient, name: str, share: float, cats: str = "Sale") -> None:
    body = {"filter": PROMO, "share": share, "params": {"CATS": cats}}
    response = client.put(f"/v1/promotions/{name}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    assert response.json() == {"name": name, **body}


def test_define_read_list_and_delete(client: TestClient) -> None:
    define(client, "sale", 0.2)
    define(client, "other", 0.1, cats="Toys")
    assert client.get("/v1/promotions/sale").json()["share"] == 0.2
    names = [p["name"] for p in client.get("/v1/promotions").json()["promotions"]]
    assert sorted(names) == ["other", "sale"]
    assert client.delete("/v1/promotions/sale", headers=ADMIN).status_code == 200
    gone = client.get("/v1/promotions/sale")
    assert gone.status_code == 404 and gone.json()["field"] == "promotion"
    assert client.delete("/v1/promotions/sale", headers=ADMIN).status_code == 404


def test_writes_need_the_admin_key_and_valid_bodies(client: TestClient) -> None:
    body = {"filter": PROMO, "share": 0.2, "params": {"CATS": "Sale"}}
    assert client.put("/v1/promotions/p", json=body).status_code == 401
    bad_share = client.put("/v1/promotions/p", json={**body, "share": 1.5}, headers=ADMIN)
    assert bad_share.status_code == 400 and bad_share.json()["field"] == "share"
    bad_filter = client.put("/v1/promotions/p", json={**body, "filter": "INCLUDE"}, headers=ADMIN)
    assert bad_filter.status_code == 400 and bad_filter.json()["field"] == "filter"
    assert client.get("/v1/promotions/p").status_code == 404


def test_promoted_share_is_respected_and_items_pass_the_filter(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    define(client, "sale", 0.3)
    send(client, runtime, {"user_id": "u1", "item_id": items[2]},
         {"user_id": "u1", "item_id": items[5]})  # fmt: skip
    body = client.get("/v1/recommendations/u1", params={"n": 10, "promotion": "sale"}).json()
    got = body["items"]
    assert len(got) == 10 and len({i["item_id"] for i in got}) == 10
    promoted = [k for k, i in enumerate(got) if i.get("promoted")]
    assert promoted == [1, 5, 8]  # round(0.3 * 10) = 3, spread evenly
    for k in promoted:
        assert got[k]["item_id"] in items[40:50] and got[k]["categories"] == ["Sale"]
        assert got[k]["reason"] == {"type": "promoted", "promotion": "sale"}
    assert all("promoted" not in i for k, i in enumerate(got) if k not in promoted)


def test_several_promotions_in_one_request(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    runtime.catalogue.upsert([Item(i, categories=("Toys",)) for i in items[50:55]])
    runtime.recommendations.catalogue.invalidate()
    define(client, "sale", 0.2)
    define(client, "toys", 0.2, cats="Toys")
    send(client, runtime, {"user_id": "u1", "item_id": items[2]})
    got = client.get(
        "/v1/recommendations/u1", params=[("n", 10), ("promotion", "sale"), ("promotion", "toys")]
    ).json()["items"]
    names = [i["reason"].get("promotion") for i in got if i.get("promoted")]
    assert sorted(names) == ["sale", "sale", "toys", "toys"]
    toys = [i["item_id"] for i in got if i["reason"].get("promotion") == "toys"]
    assert set(toys) <= set(items[50:55])


def test_unknown_promotion_and_shares_over_one(client: TestClient, items: list[str]) -> None:
    unknown = client.get("/v1/recommendations/u1", params={"promotion": "nope"})
    assert unknown.status_code == 404 and unknown.json()["field"] == "promotion"
    define(client, "a", 0.6)
    define(client, "b", 0.5)
    over = client.get("/v1/recommendations/u1", params=[("promotion", "a"), ("promotion", "b")])
    assert over.status_code == 400 and over.json()["field"] == "promotion"
