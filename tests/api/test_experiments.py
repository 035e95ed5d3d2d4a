"""Experiments over HTTP: definition, sticky assignment, results from the attribution group,
stop and promote."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamrec.runtime import Runtime
from tests.api.test_attribution import post, wait_recorded
from tests.conftest import ADMIN, drain
from tests.serving.conftest import FakeActive, FakeRegistry, attach, fit_knn

SPEC = {
    "variants": [
        {"name": "control", "campaign": "default", "share": 0.5},
        {"name": "challenger", "campaign": "new", "share": 0.5},
    ],
    "metric": "click",
    "routes": ["recommendations"],
}


class PromotableRegistry(FakeRegistry):
    """The registry's campaign pointers too: where each campaign points, and the moves."""

    def __init__(self, active: FakeActive, versions: dict[str, str]) -> None:
        super().__init__(active)
        self.versions = versions
        self.set_calls: list[tuple[str, str]] = []

    def campaign_version(self, campaign: str) -> str | None:
        return self.versions.get(campaign)

    def set_campaign(self, campaign: str, version: str) -> FakeActive | None:
        self.set_calls.append((campaign, version))
        self.versions[campaign] = version
        return self.current


def put(client: TestClient, name: str, body: object) -> dict[str, object]:
    response = client.put(f"/v1/experiments/{name}", json=body, headers=ADMIN)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_assignment_is_sticky_and_the_answer_names_the_variant(client: TestClient) -> None:
    put(client, "ab", SPEC)
    seen = {}
    for k in range(40):
        body = client.get(f"/v1/recommendations/user{k}").json()
        assert body["experiment"] == "ab"
        seen[k] = body["variant"]
        assert client.get(f"/v1/recommendations/user{k}").json()["variant"] == seen[k]
    assert set(seen.values()) == {"control", "challenger"}
    rank = client.post("/v1/rank", json={"user_id": "user1", "item_ids": ["a"]})
    assert "variant" not in rank.json()  # rank is not among the experiment's routes


def test_results_count_users_and_conversions_per_variant(
    client: TestClient, runtime: Runtime
) -> None:
    put(client, "ab", SPEC)
    post(client, *({"user_id": f"p{k}", "item_id": i} for k in range(3) for i in "abc"))
    drain(runtime, "realtime")
    variants = {}
    for k in range(30):
        body = client.get(f"/v1/recommendations/u{k}").json()
        variants[f"u{k}"] = body["variant"]
        if body["variant"] == "challenger":  # only the challenger's users click
            post(
                client,
                {"user_id": f"u{k}", "item_id": body["items"][0]["item_id"], "event_type": "click"},
            )
    wait_recorded(runtime, 30)
    drain(runtime, "attribution")
    body = client.get("/v1/experiments/ab", headers=ADMIN).json()
    results = {v["name"]: v for v in body["results"]["variants"]}
    challengers = sum(1 for v in variants.values() if v == "challenger")
    assert results["challenger"]["users"] == challengers
    assert results["control"]["users"] == 30 - challengers
    assert results["challenger"]["conversions"] == challengers
    assert results["challenger"]["conversion_rate"] == 1.0
    assert results["control"]["conversion_rate"] == 0.0
    assert results["challenger"]["campaign"] == "new"
    assert body["results"]["control"] == "control"
    assert "mSPRT" in body["results"]["test"]
    assert results["control"]["vs_control"] is None
    assert results["challenger"]["vs_control"]["difference"] == 1.0


def test_one_running_experiment_per_route(client: TestClient) -> None:
    put(client, "first", SPEC)
    second = client.put("/v1/experiments/second", json=SPEC, headers=ADMIN)
    assert second.status_code == 400 and second.json()["field"] == "routes"
    assert client.post("/v1/experiments/first/stop", headers=ADMIN).json()["status"] == "stopped"
    put(client, "second", SPEC)
    listed = client.get("/v1/experiments", headers=ADMIN).json()["experiments"]
    assert [(e["name"], e["status"]) for e in listed] == [
        ("first", "stopped"),
        ("second", "running"),
    ]


def test_stopped_experiments_leave_requests_alone(client: TestClient) -> None:
    put(client, "ab", SPEC)
    wrong = client.post("/v1/experiments/ab/stop", json={"now": True}, headers=ADMIN)
    assert wrong.status_code == 400 and wrong.json()["field"] == "now"
    client.post("/v1/experiments/ab/stop", headers=ADMIN)
    assert "variant" not in client.get("/v1/recommendations/u1").json()


def test_promote_points_the_served_campaign_at_the_winner(
    client: TestClient, runtime: Runtime
) -> None:
    registry = PromotableRegistry(
        FakeActive("v1", "item-knn", fit_knn()), {"default": "v1", "new": "v2"}
    )
    attach(runtime, registry)
    put(client, "ab", SPEC)
    response = client.post(
        "/v1/experiments/ab/promote", json={"variant": "challenger"}, headers=ADMIN
    )
    assert response.status_code == 200, response.text
    assert response.json()["promoted"] == "challenger"
    assert registry.set_calls == [("default", "v2")]
    unknown = client.post("/v1/experiments/ab/promote", json={"variant": "x"}, headers=ADMIN)
    assert unknown.status_code == 400 and unknown.json()["field"] == "variant"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SPEC, "variants": SPEC["variants"][:1]}, "variants"),
        ({**SPEC, "metric": "views"}, "metric"),
        ({**SPEC, "routes": ["similar"]}, "routes[0]"),
        (
            {
                "variants": [
                    {"name": "a", "campaign": "x", "share": 0.5},
                    {"name": "b", "campaign": "y", "share": 0.4},
                ]
            },
            "variants",
        ),
        (
            {
                "variants": [
                    {"name": "a", "campaign": "x", "share": 0.5},
                    {"name": "a", "campaign": "y", "share": 0.5},
                ]
            },
            "variants",
        ),
    ],
)
def test_bad_definitions_are_400(client: TestClient, body: object, field: str) -> None:
    response = client.put("/v1/experiments/bad", json=body, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == field


def test_unknown_experiment_is_404_and_admin_only(client: TestClient) -> None:
    for method, path in [
        ("get", "/v1/experiments/nope"),
        ("post", "/v1/experiments/nope/stop"),
        ("post", "/v1/experiments/nope/promote"),
    ]:
        body = {"json": {"variant": "a"}} if path.endswith("promote") else {}
        response = client.request(method, path, headers=ADMIN, **body)
        assert response.status_code == 404 and response.json()["field"] == "name", path
    assert client.get("/v1/experiments").status_code == 401
    assert client.put("/v1/experiments/x", json=SPEC).status_code == 401
