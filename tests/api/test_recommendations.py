"""GET /v1/recommendations, /v1/items/{id}/similar, /v1/popular, /v1/trending, POST /v1/rank and
the AWS sample's GET /recommendation, through the HTTP app with a real Runtime."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streamrec.catalogue import Item
from streamrec.events import MAX_ID_LENGTH
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from tests.conftest import AUTH, drain
from tests.serving.conftest import FakeActive, FakeRegistry, attach, fit_knn


@pytest.fixture(scope="module")
def knn_model() -> ItemKNN:
    return fit_knn()


@pytest.fixture
def registry(knn_model: ItemKNN) -> FakeRegistry:
    return FakeRegistry(FakeActive("v1", "item-knn", knn_model))


@pytest.fixture
def items(runtime: Runtime, registry: FakeRegistry, knn_model: ItemKNN) -> list[str]:
    attach(runtime, registry)
    assert knn_model.item_vocab is not None
    return knn_model.item_vocab.ids()


def send(client: TestClient, runtime: Runtime, *events: dict[str, object]) -> None:
    response = client.post("/v1/events", json={"events": list(events)}, headers=AUTH)
    assert response.status_code == 202 and response.json()["accepted"] == len(events)
    drain(runtime, "realtime")


def test_an_accepted_event_shows_in_the_next_recommendations(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    before = client.get("/v1/recommendations/u1").json()
    assert before["model"] == {"recipe": "popularity", "version": None}
    send(client, runtime, {"user_id": "u1", "item_id": items[0], "event_type": "view"})
    body = client.get("/v1/recommendations/u1", params={"n": 4}).json()
    assert body["user_id"] == "u1" and len(body["recommendation_id"]) == 32
    assert body["model"] == {"recipe": "item-knn", "version": "v1"}
    assert len(body["items"]) == 4
    assert all(set(i) >= {"item_id", "score"} for i in body["items"])


def test_items_carry_catalogue_metadata(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    send(client, runtime, {"user_id": "u1", "item_id": items[0]})
    top = client.get("/v1/recommendations/u1", params={"n": 1}).json()["items"][0]["item_id"]
    runtime.catalogue.upsert([Item(top, "Nice thing", ("Toys",), {"price": 4})])
    runtime.recommendations.catalogue.invalidate()
    first = client.get("/v1/recommendations/u1", params={"n": 1}).json()["items"][0]
    assert first["item_id"] == top and first["title"] == "Nice thing"
    assert first["categories"] == ["Toys"] and first["properties"] == {"price": 4}


def test_filter_exclude_and_params(client: TestClient, runtime: Runtime, items: list[str]) -> None:
    runtime.catalogue.upsert([Item(i, categories=("Comedy",)) for i in items[:10]])
    send(client, runtime, {"user_id": "u1", "item_id": items[20]})
    url = "/v1/recommendations/u1"
    flt = "INCLUDE ItemID WHERE Items.categories IN ($G)"
    for params in ({"filter_params": json.dumps({"G": "Comedy"})}, {"param.G": "Comedy"},
                   {"filter_params": json.dumps({"G": '"Comedy","Drama"'})}):  # fmt: skip
        got = client.get(url, params={"n": 50, "filter": flt, **params}).json()["items"]
        assert got and {i["item_id"] for i in got} <= set(items[:10])
    first = client.get(url, params={"n": 2}).json()["items"]
    excluded = ",".join(i["item_id"] for i in first)
    again = client.get(url, params={"n": 2, "exclude": excluded}).json()["items"]
    assert {i["item_id"] for i in again}.isdisjoint(excluded.split(","))
    longest = "x" * MAX_ID_LENGTH
    assert client.get(url, params={"exclude": f" , {longest},"}).status_code == 200


@pytest.mark.parametrize(
    ("params", "field", "fragment"),
    [
        ({"n": 0}, "n", ""),
        ({"n": 501}, "n", ""),
        ({"n": "ten"}, "n", ""),
        ({"filter": "INCLUDE ItemID WHER Items.a = 1"}, "filter", "position 15"),
        ({"filter": "INCLUDE ItemID WHERE Items.a IN ($X)"}, "filter_params", "$X"),
        ({"filter": "INCLUDE ItemID WHERE Items.a = 1", "filter_params": "{"}, "filter_params", ""),
        (
            {"filter": "INCLUDE ItemID WHERE Items.a = 1", "filter_params": "[1]"},
            "filter_params",
            "",
        ),
        ({"filter_params": json.dumps({"X": {"a": 1}})}, "filter_params.X", ""),
        ({"exclude": "a," + "x" * 257}, "exclude", "got 257"),
    ],
)
def test_bad_requests_are_400_naming_the_field(
    client: TestClient, params: dict[str, object], field: str, fragment: str
) -> None:
    response = client.get("/v1/recommendations/u1", params=params)
    assert response.status_code == 400
    assert response.json()["field"] == field and fragment in response.json()["error"]


def test_similar_popular_trending(client: TestClient, runtime: Runtime, items: list[str]) -> None:
    send(client, runtime, *({"user_id": f"u{k}", "item_id": items[1]} for k in range(3)))
    similar = client.get(f"/v1/items/{items[1]}/similar", params={"n": 3}).json()
    assert similar["item_id"] == items[1] and similar["model"]["recipe"] == "item-knn"
    assert len(similar["items"]) == 3 and items[1] not in [i["item_id"] for i in similar["items"]]
    popular = client.get("/v1/popular", params={"n": 5}).json()
    assert popular["model"] == {"recipe": "popularity", "version": None}
    assert popular["items"][0]["item_id"] == items[1]
    trending = client.get("/v1/trending").json()
    assert trending["model"]["recipe"] == "trending" and trending["items"][0]["item_id"] == items[1]


def test_similar_unknown_item_is_404(client: TestClient, items: list[str]) -> None:
    response = client.get("/v1/items/never-seen/similar")
    assert response.status_code == 404 and "never-seen" in response.json()["error"]
    assert response.json()["field"] == "item_id"
    assert client.get(f"/v1/items/{items[0]}/similar", params={"n": 600}).status_code == 400


def test_rank(client: TestClient, runtime: Runtime, items: list[str]) -> None:
    send(client, runtime, {"user_id": "u1", "item_id": items[0]})
    best = client.get("/v1/recommendations/u1", params={"n": 1}).json()["items"][0]["item_id"]
    body = client.post(
        "/v1/rank", json={"user_id": "u1", "item_ids": ["ghost", items[-1], best]}
    ).json()
    order = [i["item_id"] for i in body["items"]]
    assert order[0] == best and order[-1] == "ghost" and body["items"][-1]["score"] is None
    assert body["model"]["recipe"] == "item-knn" and body["user_id"] == "u1"
    served = client.get("/v1/recommendations/u1", params={"n": 1}).json()["items"][0]["reason"]
    assert body["items"][0]["reason"] == served  # the same explanation as the served answer
    assert "reason" not in body["items"][-1]  # an item nothing scores has none


def test_rank_takes_integer_ids_as_their_text(client: TestClient, items: list[str]) -> None:
    as_numbers = client.post("/v1/rank", json={"user_id": 196, "item_ids": [1, 2], "session_id": 3})
    assert as_numbers.status_code == 200, as_numbers.text
    as_text = client.post("/v1/rank", json={"user_id": "196", "item_ids": ["1", "2"]}).json()
    body = as_numbers.json()
    assert body["user_id"] == "196"
    assert [i["item_id"] for i in body["items"]] == [i["item_id"] for i in as_text["items"]]
    assert {i["item_id"] for i in body["items"]} == {"1", "2"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], "body"),
        ({"item_ids": ["a"]}, "user_id"),
        ({"user_id": "u", "item_ids": []}, "item_ids"),
        ({"user_id": "u", "item_ids": ["a", 3.5]}, "item_ids[1]"),
        ({"user_id": "u", "item_ids": ["a", True]}, "item_ids[1]"),
        ({"user_id": 1.0, "item_ids": ["a"]}, "user_id"),
        ({"user_id": {"id": 1}, "item_ids": ["a"]}, "user_id"),
        ({"user_id": "u", "item_ids": ["a"], "extra": 1}, "extra"),
        ({"user_id": "u", "item_ids": ["a"], "session_id": False}, "session_id"),
    ],
)
def test_rank_errors(client: TestClient, body: object, field: str) -> None:
    response = client.post("/v1/rank", json=body)
    assert response.status_code == 400 and response.json()["field"] == field


def test_rank_body_errors(client: TestClient) -> None:
    assert (
        client.post(
            "/v1/rank", content=b"{", headers={"content-type": "application/json"}
        ).status_code
        == 400
    )
    assert (
        client.post("/v1/rank", content=b"{}", headers={"content-type": "text/xml"}).status_code
        == 415
    )


def test_aws_sample_route_uses_the_active_campaign(
    client: TestClient, runtime: Runtime, items: list[str], registry: FakeRegistry
) -> None:
    send(client, runtime, {"user_id": "u1", "item_id": items[0]})
    sample = client.get("/recommendation/u1", params={"limit": 3}).json()
    ours = client.get("/v1/recommendations/u1", params={"n": 3}).json()["items"]
    assert [r["id"] for r in sample] == [i["item_id"] for i in ours]
    assert "default" in registry.asked
    similar = client.get("/recommendation/u1", params={"limit": 3, "itemId": items[5]}).json()
    assert len(similar) == 3 and items[5] not in [r["id"] for r in similar]


@st.composite
def nested_filters(draw: st.DrawFn) -> str:
    """Filters wrapped in up to 1,200 levels of NOT and parentheses, some cut short or spliced."""
    depth = draw(st.integers(0, 1200))
    wrappers = draw(st.lists(st.sampled_from(["NOT ", "("]), min_size=depth, max_size=depth))
    condition = draw(st.sampled_from(['Items.genre IN ("x")', "Items.price < $P", "Items.a = 1"]))
    closing = ")" * wrappers.count("(")
    text = "INCLUDE ItemID WHERE " + "".join(wrappers) + condition + closing
    cut = draw(st.integers(0, len(text)))
    return text[:cut] + draw(st.text(max_size=20)) if draw(st.booleans()) else text


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=nested_filters())
def test_no_generated_filter_is_answered_with_a_5xx(client: TestClient, text: str) -> None:
    response = client.get(
        "/v1/recommendations/u1", params={"filter": text, "filter_params": '{"P": 3}'}
    )
    assert response.status_code < 500, response.text
    if response.status_code == 400:
        assert response.json()["field"] in ("filter", "filter_params")


def test_each_item_says_why_with_a_real_event_of_the_user(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    send(client, runtime, {"user_id": "u1", "item_id": items[3], "event_type": "view"},
         {"user_id": "u1", "item_id": items[8], "event_type": "add_to_cart"})  # fmt: skip
    body = client.get("/v1/recommendations/u1", params={"n": 8}).json()
    own = {(items[3], "view"), (items[8], "add_to_cart")}
    reasons = [i["reason"] for i in body["items"]]
    assert reasons and all(r["type"] in {"because_you", "repeat", "popular"} for r in reasons)
    personal = [(r["item_id"], r["event_type"]) for r in reasons if r["type"] == "because_you"]
    assert personal and set(personal) <= own
    similar = client.get(f"/v1/items/{items[3]}/similar", params={"n": 3}).json()["items"]
    assert [i["reason"] for i in similar] == [{"type": "similar_to", "item_id": items[3]}] * 3
    cold = client.get("/v1/recommendations/nobody", params={"n": 2}).json()["items"]
    assert [i["reason"] for i in cold] == [{"type": "popular"}] * len(cold)
