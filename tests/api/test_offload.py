"""Blocking calls leave the event loop: store reads on Redis/PostgreSQL and model loads run on a
worker thread; local, quick calls stay inline (a thread hand-off cost more than them)."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient

from streamrec.api.offload import off_loop, off_loop_when_blocking
from streamrec.runtime import Runtime
from streamrec.testing.servers import RedisServer
from tests.conftest import RuntimeFactory


def _thread_name() -> str:
    return threading.current_thread().name


@pytest.fixture
def app_client(runtime: Runtime) -> Iterator[TestClient]:
    app = FastAPI()
    app.state.runtime = runtime

    @app.get("/loop")
    async def loop_thread() -> dict[str, str]:
        return {"loop": _thread_name()}

    @app.get("/when-blocking")
    async def when_blocking(request: Request) -> dict[str, str]:
        return {"ran": await off_loop_when_blocking(request, _thread_name)}

    @app.get("/always")
    async def always() -> dict[str, str]:
        return {"ran": await off_loop(_thread_name)}

    with TestClient(app) as client:
        yield client


def ran_on_loop(client: TestClient, path: str) -> bool:
    loop = client.get("/loop").json()["loop"]
    return bool(client.get(path).json()["ran"] == loop)


def test_local_reads_with_a_loaded_model_stay_on_the_loop(
    runtime: Runtime, app_client: TestClient
) -> None:
    runtime.models.active(runtime.settings.campaign)  # as after_start does
    assert not runtime.remote_reads
    assert ran_on_loop(app_client, "/when-blocking")
    assert not ran_on_loop(app_client, "/always")


def test_remote_store_reads_leave_the_loop(runtime: Runtime, app_client: TestClient) -> None:
    runtime.models.active(runtime.settings.campaign)
    runtime.remote_reads = True  # as for redis:// or postgresql:// stores
    assert not ran_on_loop(app_client, "/when-blocking")


def test_a_read_that_would_load_the_model_leaves_the_loop(
    runtime: Runtime, app_client: TestClient
) -> None:
    assert runtime.models.loads_on_next_read(runtime.settings.campaign)  # nothing checked yet
    assert not ran_on_loop(app_client, "/when-blocking")


def test_a_redis_store_makes_reads_remote(
    make_runtime: RuntimeFactory, redis_server: RedisServer
) -> None:
    assert make_runtime(user_state_url=f"{redis_server.url}?namespace=offload").remote_reads
