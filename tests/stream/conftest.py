"""The EventLog contract runs against every backend: add a backend to BACKENDS (and a fixture that
yields a factory ``make(shard_count) -> EventLog``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.config import Settings
from streamrec.stream import EventLog, open_event_log
from streamrec.testing.servers import KafkaServer
from streamrec.urls import sqlite_url

LogFactory = Callable[[int], EventLog]
BACKENDS = ["sqlite", "kafka"]


@pytest.fixture
def sqlite_log_factory(tmp_path: Path) -> Iterator[LogFactory]:
    opened: list[EventLog] = []

    def make(shard_count: int) -> EventLog:
        settings = Settings(data_dir=tmp_path, shard_count=shard_count)
        log = open_event_log(settings, sqlite_url(tmp_path / "stream.db"))
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()


@pytest.fixture
def kafka_log_factory(tmp_path: Path, kafka_server: KafkaServer) -> Iterator[LogFactory]:
    """A fresh topic per test on the session's broker; every make() in a test opens that topic."""
    url = f"{kafka_server.url}/events-{uuid.uuid4().hex[:12]}"
    opened: list[EventLog] = []

    def make(shard_count: int) -> EventLog:
        log = open_event_log(Settings(data_dir=tmp_path, shard_count=shard_count), url)
        opened.append(log)
        return log

    yield make
    for log in opened:
        log.close()


@pytest.fixture(params=BACKENDS)
def make_log(request: pytest.FixtureRequest) -> LogFactory:
    factory: LogFactory = request.getfixturevalue(f"{request.param}_log_factory")
    return factory
