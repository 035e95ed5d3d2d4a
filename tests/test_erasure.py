"""DELETE /v1/users/{id} reaches everything: after the erasure is done, no file of the data dir
(stores and their WAL files and freed pages, the stream, the lake) holds the user id's bytes."""

from __future__ import annotations

import threading
from pathlib import Path

from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from tests.conftest import ADMIN, AUTH, RuntimeFactory, drain

USER = "erase-me-5c1f9e"


def files_holding(data_dir: Path, needle: bytes) -> list[str]:
    return [
        str(path.relative_to(data_dir))
        for path in sorted(data_dir.rglob("*"))
        if path.is_file() and needle in path.read_bytes()
    ]


def post_load(client: TestClient, user: str, batches: int) -> None:
    for b in range(batches):
        events = [
            {"user_id": user, "item_id": f"i{(b * 50 + k) % 40}", "session_id": "shared-session"}
            for k in range(50)
        ]
        assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202


def test_an_erased_user_is_in_no_file_of_the_data_dir(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(shard_count=2, lake_flush_interval_s=0.2)
    data_dir = runtime.settings.data_dir
    runtime.start_consumers()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        post_load(client, "someone-else", 4)
        post_load(client, USER, 20)  # still being consumed when the erasure comes
        assert files_holding(data_dir, USER.encode())  # the test can see the id at all
        erasure = client.delete(f"/v1/users/{USER}", headers=ADMIN).json()
        post_load(client, "someone-else", 4)
        pause = threading.Event()
        for _ in range(600):
            status = client.get(erasure["status_url"], headers=ADMIN).json()
            if status["status"] != "running":
                break
            pause.wait(0.1)
        drain(runtime)
        assert status["status"] == "done", status
        assert files_holding(data_dir, USER.encode()) == []
        assert client.get(f"/v1/users/{USER}/history").json()["items"] == []
        assert runtime.user_state.recent_events("session:shared-session", 500) != []
