"""HTTP routes for model versions, training jobs and campaigns."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.config import Settings
from streamrec.runtime import Runtime
from streamrec.synthetic import generate_interactions
from tests.models.conftest import fill_lake

ADMIN = {"Authorization": "Bearer s3cret"}


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[Runtime]:
    settings = Settings(data_dir=tmp_path / "data", admin_key="s3cret", tracking_id="t")
    fill_lake(settings, generate_interactions(n_users=60, n_items=40, n_events=1500, seed=5))
    runtime = Runtime(settings)
    yield runtime
    runtime.close()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime)) as c:
        yield c


def _train(client: TestClient, body: dict[str, object]) -> dict[str, object]:
    response = client.post("/v1/models/train", json=body, headers=ADMIN)
    assert response.status_code == 202, response.text
    job = response.json()
    assert response.headers["location"] == f"/v1/models/jobs/{job['job_id']}"
    jobs = client.app.state.training_jobs  # type: ignore[attr-defined]
    jobs.wait(job["job_id"], timeout_s=60)
    state = client.get(f"/v1/models/jobs/{job['job_id']}").json()
    assert isinstance(state, dict)
    return state


def test_train_job_then_list_versions(client: TestClient) -> None:
    assert client.get("/v1/models").json() == {"versions": [], "campaigns": {}}
    job = _train(client, {"recipe": "item-knn", "activate": True})
    assert job["state"] == "succeeded" and job["error"] is None
    assert job["metrics"]["ndcg@10"] > 0  # type: ignore[index]
    listing = client.get("/v1/models").json()
    [version] = listing["versions"]
    assert version["version"] == job["version"] and version["campaigns"] == ["default"]
    assert version["recipe"] == "item-knn" and "hr@10" in version["metrics"]
    assert listing["campaigns"] == {"default": job["version"]}


def test_failed_job_reports_why(client: TestClient, runtime: Runtime) -> None:
    job = _train(client, {"recipe": "ease"})
    assert job["state"] == "succeeded"
    empty = Runtime(Settings(data_dir=runtime.settings.data_dir / "empty", admin_key="s3cret"))
    try:
        with TestClient(create_app(empty)) as other:
            failed = _train(other, {})
    finally:
        empty.close()
    assert failed["state"] == "failed" and "at least 10 interactions" in str(failed["error"])


def test_campaign_switch_and_listing(client: TestClient, runtime: Runtime) -> None:
    first = _train(client, {"recipe": "popularity"})["version"]
    second = _train(client, {"recipe": "item-knn"})["version"]
    for version in (first, second):
        response = client.put("/v1/campaigns/default", json={"version": version}, headers=ADMIN)
        assert response.status_code == 200, response.text
        active = runtime.models.active("default")
        assert active is not None and active.version == version  # this process: at once
    assert client.get("/v1/campaigns").json() == {
        "campaigns": [{"name": "default", "version": second}],
        "serving": "default",
    }


def test_unknown_version_is_404_and_bad_input_400(client: TestClient) -> None:
    response = client.put("/v1/campaigns/default", json={"version": "nope"}, headers=ADMIN)
    assert response.status_code == 404 and "nope" in response.json()["error"]
    assert response.json()["field"] == "version"
    response = client.put("/v1/campaigns/default", json={}, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == "version"
    response = client.post("/v1/models/train", json={"recipe": "magic"}, headers=ADMIN)
    assert response.status_code == 400 and "unknown recipe" in response.json()["error"]
    response = client.post("/v1/models/train", json={"activate": "yes"}, headers=ADMIN)
    assert response.status_code == 400 and response.json()["field"] == "activate"
    response = client.get("/v1/models/jobs/nope")
    assert response.status_code == 404 and response.json()["field"] == "job_id"


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("post", "/v1/models/train", {}), ("put", "/v1/campaigns/default", {"version": "v"})],
)
def test_admin_routes_need_the_admin_key(
    client: TestClient, method: str, path: str, body: dict[str, str]
) -> None:
    call = getattr(client, method)
    assert call(path, json=body).status_code == 401
    assert call(path, json=body, headers={"Authorization": "Bearer wrong"}).status_code == 403
    assert call(path, json=body, headers={"Authorization": "Basic s3cret"}).status_code == 401
