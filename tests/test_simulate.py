"""Simulated shoppers against the HTTP app decide experiments the right way: a campaign that
learns the shopper's taste beats popularity, and two identical campaigns rarely differ."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.config import Settings
from streamrec.recommenders import Vocabulary, create
from streamrec.runtime import Runtime
from streamrec.simulate import ShopperModel, simulate
from streamrec.synthetic import generate_interactions
from streamrec.training.interactions import encode_events
from tests.conftest import ADMIN, ADMIN_KEY, TRACKING_ID, drain

MODEL = ShopperModel(n_items=200)


def train(runtime: Runtime, recipe: str, campaign: str) -> None:
    """Fit ``recipe`` on the synthetic shop's history and point ``campaign`` at it."""
    encoded = encode_events(generate_interactions(400, MODEL.n_items, 20_000, seed=0))
    model = create(recipe)
    model.fit(encoded.interactions())
    model.item_vocab = Vocabulary(encoded.items.ids())
    version = runtime.models.save(model, {})
    runtime.models.set_campaign(campaign, version)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Runtime, TestClient]]:
    factory = tmp_path_factory.mktemp("shop")
    runtime = Runtime(
        Settings(data_dir=factory / "data", tracking_id=TRACKING_ID, admin_key=ADMIN_KEY)
    )
    train(runtime, "item-knn", "default")
    train(runtime, "popularity", "popular")
    with TestClient(create_app(runtime)) as client:
        yield runtime, client
    runtime.close()


def run_experiment(
    runtime: Runtime,
    client: TestClient,
    name: str,
    campaigns: tuple[str, str],
    seed: int,
    shoppers: int,
) -> dict[str, object]:
    variants = [
        {"name": "control", "campaign": campaigns[0], "share": 0.5},
        {"name": "challenger", "campaign": campaigns[1], "share": 0.5},
    ]
    response = client.put(f"/v1/experiments/{name}", json={"variants": variants}, headers=ADMIN)
    assert response.status_code == 200, response.text
    users = [f"{name}-shopper{k}" for k in range(shoppers)]
    report = simulate(client, TRACKING_ID, users, seed, MODEL, lambda: drain(runtime, "realtime"))
    assert report.recommendations == shoppers
    drain(runtime, "attribution")
    body = client.get(f"/v1/experiments/{name}", headers=ADMIN).json()
    client.post(f"/v1/experiments/{name}/stop", headers=ADMIN)
    return body["results"]  # type: ignore[no-any-return]


def test_the_campaign_that_learns_taste_beats_popularity(shop: tuple[Runtime, TestClient]) -> None:
    runtime, client = shop
    results = run_experiment(runtime, client, "pop-vs-default", ("popular", "default"), 1, 400)
    rates = {v["name"]: v["conversion_rate"] for v in results["variants"]}
    assert rates["challenger"] > rates["control"]
    assert results["winner"] == "challenger", results
    assert results["sample_ratio"]["mismatch"] is False


def test_identical_campaigns_rarely_declare_a_winner(shop: tuple[Runtime, TestClient]) -> None:
    runtime, client = shop
    winners = [
        run_experiment(runtime, client, f"aa{seed}", ("default", "default"), seed, 200)["winner"]
        for seed in range(8)
    ]
    assert sum(w is not None for w in winners) <= 1, winners
