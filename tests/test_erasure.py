"""DELETE /v1/users/{id} reaches everything: after the erasure is done, no file of the data dir
(stores and their WAL files and freed pages, the stream, the lake, models and the real-time state's
snapshot, the erasure journal) holds the user id's bytes, no other serving process remembers the
user, and the next retrain (which the erasure asks for) trains without them."""

from __future__ import annotations

import dataclasses
import threading
from pathlib import Path

import pyarrow.parquet as pq
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.lake.reader import LakeReader
from streamrec.models.retrain import Retrainer, pending_request
from streamrec.runtime import Runtime
from tests.backend_search import files_holding
from tests.conftest import ADMIN, AUTH, RuntimeFactory, drain

USER = "erase-me-5c1f9e"
OTHERS = [f"someone-else-{k}" for k in range(6)]


def lake_rows_of(runtime: Runtime, user: str) -> int:
    """The user's rows in every Parquet file of the lake, read as tables (compressed pages too).
    The writer's temporary files are left out: renamed while read, they raced the read."""
    lake = Path(runtime.settings.lake_location) / "events"
    return sum(
        pq.read_table(path, columns=["user_id"]).column("user_id").to_pylist().count(user)
        for path in lake.rglob("*.parquet")
        if not path.name.startswith(".tmp")  # being written: renamed when complete
    )


def post_load(client: TestClient, user: str, batches: int) -> None:
    for b in range(batches):
        events = [
            {"user_id": user, "item_id": f"i{(b * 7 + k) % 40}", "session_id": "shared-session"}
            for k in range(50)
        ]
        assert client.post("/v1/events", json={"events": events}, headers=AUTH).status_code == 202


def wait_until_finished(client: TestClient, status_url: str) -> dict[str, object]:
    pause = threading.Event()
    status: dict[str, object] = {}
    for _ in range(900):
        status = client.get(status_url, headers=ADMIN).json()
        if status["status"] != "running":
            break
        pause.wait(0.1)
    return status


def wait_for_lake(runtime: Runtime, user: str) -> None:
    pause = threading.Event()
    for _ in range(300):
        if lake_rows_of(runtime, user):
            return
        pause.wait(0.1)
    raise AssertionError(f"no lake row of {user}")


def train_and_serve(runtime: Runtime) -> str:
    """What the retraining loop does when due (item-knn: quick)."""
    settings = dataclasses.replace(runtime.settings, recipe="item-knn")
    return Retrainer(settings, runtime.models).run_once().version


def test_an_erased_user_is_in_no_file_of_the_data_dir(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(shard_count=2, lake_flush_interval_s=0.2)
    data_dir = runtime.settings.data_dir
    runtime.keep_snapshots()
    runtime.start_consumers()
    # another API process on the same data dir: it follows the stream into its own memory
    other_api = make_runtime(shard_count=2, data_dir=data_dir)
    other_api.start_stream_tail()
    with TestClient(create_app(runtime), raise_server_exceptions=False) as client:
        for user in OTHERS:
            post_load(client, user, 2)
        post_load(client, USER, 4)
        wait_for_lake(runtime, USER)
        first_model = train_and_serve(runtime)  # fitted with the user's events
        post_load(client, USER, 20)  # still being consumed when the erasure comes
        assert files_holding(data_dir, USER)  # the test can see the id at all
        erasure = client.delete(f"/v1/users/{USER}", headers=ADMIN).json()
        post_load(client, OTHERS[0], 4)
        status = wait_until_finished(client, erasure["status_url"])
        assert status["status"] == "done", status
        assert pending_request(runtime.models) is not None  # the erasure asked for a retrain
        assert train_and_serve(runtime) != first_model
        assert runtime.models.campaign_version(runtime.settings.campaign) != first_model
        drain(runtime)
        assert files_holding(data_dir, USER) == []
        assert lake_rows_of(runtime, USER) == 0
        raw = LakeReader(runtime.settings.lake_location).query(
            "SELECT count(*) AS n FROM events_raw WHERE user_id = ?", [USER]
        )
        assert raw.column("n").to_pylist() == [0]
        assert client.get(f"/v1/users/{USER}/history").json()["items"] == []
        assert runtime.user_state.recent_events("session:shared-session", 500) != []
        for api in (runtime, other_api):  # every serving process forgot the user
            snapshot = api.recommendations.stream.snapshot({})
            assert USER.encode() not in snapshot
            assert OTHERS[1].encode() in snapshot
        assert pending_request(runtime.models) is None


def test_an_unfinished_erasure_resumes_at_the_next_start(make_runtime: RuntimeFactory) -> None:
    """Closing the runtime stops the job between its steps (it used to run on after the stores
    had closed); the next start finishes it, and the status survives the restart."""
    first = make_runtime()
    data_dir = first.settings.data_dir
    with TestClient(create_app(first), raise_server_exceptions=False) as client:
        post_load(client, USER, 2)
        drain(first)
        erasure = client.delete(f"/v1/users/{USER}", headers=ADMIN).json()
        assert erasure["status"] == "running"
    first.close()  # while the job waits for the consumer groups
    assert USER.encode() in (data_dir / "erasures.db").read_bytes()  # needed to finish it
    again = make_runtime(data_dir=data_dir)
    again.start_consumers()
    with TestClient(create_app(again), raise_server_exceptions=False) as client:
        status = wait_until_finished(client, erasure["status_url"])
        assert status["status"] == "done", status
        assert status["counts"]["history_rows_deleted"] > 0  # counted before the restart
    again.close()
    assert files_holding(data_dir, USER) == []


def test_an_unknown_erasure_is_a_404_naming_it(client: TestClient) -> None:
    response = client.get("/v1/erasures/no-such-job", headers=ADMIN)
    assert response.status_code == 404
    assert "no-such-job" in response.json()["error"] and response.json()["field"] == "erasure_id"


def test_maintenance_forgets_marks_once_the_stream_cannot_hold_their_events(
    make_runtime: RuntimeFactory,
) -> None:
    runtime = make_runtime(stream_retention_hours=1.0)
    now = 100_000.0
    runtime.user_state.record_erasure(0, 5, "old", now=now - 3 * 3600.0)
    runtime.user_state.record_erasure(0, 9, "recent", now=now - 1.5 * 3600.0)
    runtime.run_maintenance(now)
    assert [m.digest for m in runtime.user_state.erasures()] == ["recent"]
