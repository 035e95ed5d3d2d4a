"""pytest plugin: session-scoped real servers (``kafka_server``, ``redis_server``,
``postgres_server``, ``s3_server``) and factories for tests that crash or restart their own.

Enable it in the top conftest with ``pytest_plugins = ["streamrec.testing.fixtures"]``.

A test may skip only when its server truly cannot be had here (the reason is printed); with
``CI=true`` that same situation fails the test instead, so CI never passes by skipping.
Each server starts once per session, on first use, and a failed start is not retried.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn, Protocol, TypeVar

import pytest

from streamrec.testing._process import ManagedProcess, ServerUnavailableError
from streamrec.testing.servers import KafkaServer, PostgresServer, RedisServer, S3Server

ServerT = TypeVar("ServerT", bound=ManagedProcess)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


def skip_or_fail(reason: str) -> NoReturn:
    """Skip a test whose requirement is missing here; under CI=true fail instead, saying why."""
    if in_ci():
        pytest.fail(f"{reason} (CI=true: every requirement must be installed)", pytrace=False)
    pytest.skip(reason)


def start_or_skip(server: ServerT) -> ServerT:
    """Start `server`; when it cannot run here, skip (fail under CI=true) saying why."""
    try:
        return server.start()
    except ServerUnavailableError as exc:
        server.close()
        skip_or_fail(f"{server.name} unavailable: {exc}")


def _session_server(server: ServerT) -> Iterator[ServerT]:
    try:
        yield start_or_skip(server)
    finally:
        server.close()


@pytest.fixture(scope="session")
def kafka_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KafkaServer]:
    yield from _session_server(KafkaServer(tmp_path_factory.mktemp("kafka")))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from _session_server(RedisServer(tmp_path_factory.mktemp("redis")))


@pytest.fixture(scope="session")
def postgres_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PostgresServer]:
    yield from _session_server(PostgresServer(tmp_path_factory.mktemp("postgres")))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    yield from _session_server(S3Server(tmp_path_factory.mktemp("s3")))


class ServerFactory(Protocol):
    def __call__(self, kind: type[ServerT], **kwargs: Any) -> ServerT: ...


@pytest.fixture
def server_factory(tmp_path: Path) -> Iterator[ServerFactory]:
    """Private servers for one test (fault tests kill and restart them): ``factory(RedisServer,
    appendonly=True)``. Each is started (or the test skipped, as above) and closed afterwards."""
    started: list[ManagedProcess] = []

    def make(kind: type[ServerT], **kwargs: Any) -> ServerT:
        server = kind(tmp_path / f"{kind.name}-{len(started)}", **kwargs)
        started.append(server)
        return start_or_skip(server)

    yield make
    for server in reversed(started):
        server.close()
