"""Shared fixtures: a Runtime on a temporary data dir and an HTTP client for it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from streamrec.api.app import create_app
from streamrec.config import Settings
from streamrec.runtime import Runtime

# Real servers on loopback (kafka_server, redis_server, postgres_server, s3_server, server_factory).
# Fresh stores on each backend for the contract suites (sqlite_store_urls, postgres_store_urls, ...).
pytest_plugins = ["streamrec.testing.fixtures", "tests.store_urls"]

TRACKING_ID = "test-tracking-id"
ADMIN_KEY = "test-admin-key"

RuntimeFactory = Callable[..., Runtime]


@pytest.fixture
def make_runtime(tmp_path: Path) -> Iterator[RuntimeFactory]:
    opened: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        values: dict[str, Any] = {
            "data_dir": tmp_path / f"data{len(opened)}",
            "tracking_id": TRACKING_ID,
            "admin_key": ADMIN_KEY,
            "lake_flush_interval_s": 0.2,
        }
        values.update(overrides)
        runtime = Runtime(Settings(**values))
        opened.append(runtime)
        return runtime

    yield make
    for runtime in opened:
        runtime.close()


@pytest.fixture
def runtime(make_runtime: RuntimeFactory) -> Runtime:
    return make_runtime()


@pytest.fixture
def client(runtime: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(runtime), raise_server_exceptions=False) as test_client:
        yield test_client


def drain(runtime: Runtime, *groups: str) -> None:
    """Run consumer groups until they have processed everything in the stream."""
    for group in groups or tuple(runtime.enabled_groups()):
        runner = runtime.make_runner(group)
        runner.drain()
        runner.close()


AUTH = {"X-Tracking-Id": TRACKING_ID}
ADMIN = {"Authorization": f"Bearer {ADMIN_KEY}"}
