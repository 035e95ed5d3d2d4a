"""The real default recipe, end to end over HTTP: events posted, consumed into the lake, a model
trained from it and activated, recommendations served; then one more click changes them."""

from __future__ import annotations

import time

import pyarrow as pa
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.models.train import train
from streamrec.recommenders.registry import DEFAULT_RECIPE
from streamrec.synthetic import generate_interactions
from tests.conftest import AUTH, RuntimeFactory, drain


def _post_table(client: TestClient, table: pa.Table) -> None:
    rows = table.to_pylist()
    for start in range(0, len(rows), 500):
        events = [
            {k: r[k] for k in ("user_id", "item_id", "timestamp", "event_type", "event_value")}
            for r in rows[start : start + 500]
        ]
        response = client.post("/v1/events", json={"events": events}, headers=AUTH)
        assert response.status_code == 202 and response.json()["accepted"] == len(events)


def test_default_recipe_serves_and_follows_a_click(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime()
    table = generate_interactions(n_users=150, n_items=80, n_events=4_000, seed=11)
    now = time.time()  # shift the synthetic clock to the recent past: timestamps must be <= now
    table = table.set_column(
        2,
        "timestamp",
        pa.array(table["timestamp"].to_numpy() - table["timestamp"][-1].as_py() + now - 60),
    )
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        _post_table(client, table)
        drain(runtime)
        meta = train(runtime.settings, activate=True, registry=runtime.models)
        assert meta["recipe"] == DEFAULT_RECIPE
        user = str(table["user_id"][0].as_py())
        before = client.get(f"/v1/recommendations/{user}", params={"n": 10}).json()
        assert before["model"] == {"recipe": DEFAULT_RECIPE, "version": meta["version"]}
        shown = [i["item_id"] for i in before["items"]]
        assert len(shown) == 10
        clicked = next(
            f"item-{k}" for k in range(80) if f"item-{k}" not in shown
        )  # an item the user was not offered
        event = {"user_id": user, "item_id": clicked, "event_type": "click"}
        assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
        drain(runtime, "realtime")
        after = client.get(f"/v1/recommendations/{user}", params={"n": 10}).json()
        assert after["model"] == before["model"]
        assert [i["item_id"] for i in after["items"]] != shown
