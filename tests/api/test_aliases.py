"""POST /v1/users/{user_id}/aliases: from the next request, the user's history (ours and the AWS
sample's), real-time state and recommendations include the anonymous id's events; later anonymous
events count for the user; a replay of the stream changes nothing; bad input is a 4xx naming the
field."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from streamrec.recommenders.itemknn import ItemKNN
from streamrec.runtime import Runtime
from streamrec.stream.base import StreamRecord
from tests.conftest import AUTH, drain
from tests.serving.conftest import FakeActive, FakeRegistry, attach, fit_knn

ANON = "anon-3b1c"
USER = "alice"
TWIN = "twin"  # sends the same events under its own id: what the merged user must look like


@pytest.fixture(scope="module")
def knn_model() -> ItemKNN:
    return fit_knn()


@pytest.fixture
def items(runtime: Runtime, knn_model: ItemKNN) -> list[str]:
    attach(runtime, FakeRegistry(FakeActive("v1", "item-knn", knn_model)))
    assert knn_model.item_vocab is not None
    return knn_model.item_vocab.ids()


def post(client: TestClient, *events: dict[str, object]) -> None:
    r = client.post("/v1/events", json={"events": list(events)}, headers=AUTH)
    assert r.status_code == 202 and r.json()["accepted"] == len(events)


def alias(client: TestClient, user: str, anonymous: str | int) -> dict[str, object]:
    r = client.post(f"/v1/users/{user}/aliases", json={"anonymous_id": anonymous}, headers=AUTH)
    assert r.status_code == 202, r.text
    return dict(r.json())


def clicks(user: str, items: list[str], start: float) -> list[dict[str, object]]:
    return [
        {"user_id": user, "item_id": item, "event_type": "view", "timestamp": start + k}
        for k, item in enumerate(items)
    ]


def recommended(client: TestClient, user: str) -> list[str]:
    body = client.get(f"/v1/recommendations/{user}", params={"n": 10}).json()
    return [i["item_id"] for i in body["items"]]


def history(client: TestClient, user: str) -> list[str]:
    return sorted(i["item_id"] for i in client.get(f"/v1/users/{user}/history").json()["items"])


def test_the_user_gets_the_anonymous_history_and_recommendations(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    start = time.time() - 600
    anonymous, own = items[:4], items[30:31]
    post(client, *clicks(ANON, anonymous, start), *clicks(USER, own, start + 10))
    post(client, *clicks(TWIN, anonymous, start), *clicks(TWIN, own, start + 10))
    drain(runtime)
    before = recommended(client, USER)
    assert history(client, USER) == own
    body = alias(client, USER, ANON)
    assert body["user_id"] == USER and body["anonymous_id"] == ANON and body["event_id"]
    drain(runtime)
    assert history(client, USER) == sorted(anonymous + own) == history(client, TWIN)
    assert history(client, ANON) == []
    aws = client.get(f"/history/{USER}").json()
    assert sorted(i["id"] for i in aws) == sorted(anonymous + own)
    after = recommended(client, USER)
    assert after != before
    assert after == recommended(client, TWIN)  # as if the user had clicked them
    # later events under the anonymous id count for the user
    post(client, *clicks(ANON, items[40:41], start + 20), *clicks(TWIN, items[40:41], start + 20))
    drain(runtime)
    assert items[40] in history(client, USER) and history(client, ANON) == []
    assert recommended(client, USER) == recommended(client, TWIN)


def test_an_integer_anonymous_id_is_taken_as_text_as_event_ids_are(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    post(client, {"user_id": 12, "item_id": items[0]})  # stored under the user "12"
    body = alias(client, USER, 12)
    assert body["anonymous_id"] == "12"
    drain(runtime)
    assert history(client, USER) == [items[0]] and history(client, "12") == []


def test_replaying_the_stream_duplicates_nothing(
    client: TestClient, runtime: Runtime, items: list[str]
) -> None:
    start = time.time() - 600
    post(client, *clicks(ANON, items[:3], start), *clicks(USER, items[:1], start + 5))
    alias(client, USER, ANON)
    post(client, *clicks(ANON, items[:1], start + 9))
    drain(runtime)
    assert runtime.history is not None
    counts = {e.item_id: e.count for e in runtime.history.recent(USER, 50)}
    assert counts == {items[0]: 3, items[1]: 1, items[2]: 1}
    state = runtime.user_state.recent_events(USER, 50)
    heads = {s.shard: s.head for s in runtime.event_log.status()}
    replay = read_all(runtime, heads)
    assert any(r.event.event_type == "$alias" for r in replay)
    assert runtime.history.apply(replay, heads) == 0
    assert runtime.user_state.apply(replay, heads) == 0
    assert {e.item_id: e.count for e in runtime.history.recent(USER, 50)} == counts
    assert runtime.user_state.recent_events(USER, 50) == state


def read_all(runtime: Runtime, heads: dict[int, int]) -> list[StreamRecord]:
    reader = runtime.event_log.reader(dict.fromkeys(heads, 0))
    out: list[StreamRecord] = []
    try:
        while len(out) < sum(heads.values()):
            batch = reader.poll(1000, 0.2)
            if not batch:
                break
            out.extend(batch)
    finally:
        reader.close()
    return out


@pytest.mark.parametrize(
    ("path_user", "body", "field"),
    [
        ("alice", {}, "anonymous_id"),
        ("alice", {"anonymous_id": "alice"}, "anonymous_id"),
        ("alice", {"anonymous_id": ""}, "anonymous_id"),
        ("alice", {"anonymous_id": "a" * 257}, "anonymous_id"),
        ("alice", {"anonymous_id": 1.5}, "anonymous_id"),
        ("alice", {"anonymous_id": True}, "anonymous_id"),
        ("alice", {"anonymous_id": {"id": 12}}, "anonymous_id"),
        ("12", {"anonymous_id": 12}, "anonymous_id"),  # the same user once taken as text
        ("alice", {"anonymous_id": "x", "user_id": "y"}, "user_id"),
        ("a" * 257, {"anonymous_id": "x"}, "user_id"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    client: TestClient, path_user: str, body: dict[str, object], field: str
) -> None:
    r = client.post(f"/v1/users/{path_user}/aliases", json=body, headers=AUTH)
    assert r.status_code == 400, r.text
    assert r.json()["field"] == field


def test_the_tracking_id_is_required_and_delete_is_not_an_erasure(client: TestClient) -> None:
    body = {"anonymous_id": ANON}
    assert client.post(f"/v1/users/{USER}/aliases", json=body).status_code == 401
    wrong = {"X-Tracking-Id": "nope"}
    assert client.post(f"/v1/users/{USER}/aliases", json=body, headers=wrong).status_code == 403
    r = client.delete(f"/v1/users/{USER}/aliases", headers=AUTH)
    assert r.status_code == 405


def test_clients_cannot_send_alias_events(client: TestClient) -> None:
    event = {"user_id": ANON, "item_id": USER, "event_type": "$alias"}
    r = client.post("/v1/events", json=event, headers=AUTH)
    assert r.status_code == 400 and r.json()["field"] == "event_type"
