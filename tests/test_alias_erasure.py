"""Erasing a user erases the anonymous history merged into them by an alias (streamrec.aliases):
after the erasure is done, no file of the data dir holds the user's or the anonymous id's bytes,
and the anonymous id's later events are its own again (the alias is gone)."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from tests.backend_search import files_holding
from tests.conftest import ADMIN, AUTH, RuntimeFactory, drain
from tests.test_erasure import lake_rows_of, wait_for_lake, wait_until_finished

ANON = "anon-erase-9d4e17"
USER = "known-erase-51c0aa"
OTHER = "someone-else-2"


def post(client: TestClient, user: str, items: range) -> None:
    events = [{"user_id": user, "item_id": f"i{k}"} for k in items]
    assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202


def test_erasing_the_user_erases_the_merged_anonymous_history(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(shard_count=4, lake_flush_interval_s=0.2)
    data_dir = runtime.settings.data_dir
    runtime.start_consumers()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        post(client, ANON, range(0, 6))
        post(client, USER, range(6, 8))
        post(client, OTHER, range(0, 3))
        body = {"anonymous_id": ANON}
        r = client.post(f"/v1/users/{USER}/aliases", json=body, headers=AUTH)
        assert r.status_code == 202
        post(client, ANON, range(8, 10))  # after the alias: the user's
        wait_for_lake(runtime, ANON)
        drain(runtime, "history", "realtime")
        assert len(client.get(f"/v1/users/{USER}/history").json()["items"]) == 10
        assert runtime.aliases_of(USER) == [ANON]
        assert files_holding(data_dir, ANON)  # the test can see the id at all
        erasure = client.delete(f"/v1/users/{USER}", headers=ADMIN).json()
        status = wait_until_finished(client, erasure["status_url"])
        assert status["status"] == "done", status
        assert status["counts"]["aliases_deleted"] == 2  # in the history and user-state stores
        drain(runtime)
        for erased in (USER, ANON):
            assert client.get(f"/v1/users/{erased}/history").json()["items"] == []
            assert runtime.user_state.recent_events(erased, 50) == []
            assert lake_rows_of(runtime, erased) == 0
            assert files_holding(data_dir, erased) == []
        assert runtime.aliases_of(USER) == []
        assert len(client.get(f"/v1/users/{OTHER}/history").json()["items"]) == 3
        post(client, ANON, range(20, 21))  # the anonymous id starts afresh, on its own
        drain(runtime, "history")
        assert [i["item_id"] for i in client.get(f"/v1/users/{ANON}/history").json()["items"]] == [
            "i20"
        ]
        assert client.get(f"/v1/users/{USER}/history").json()["items"] == []
