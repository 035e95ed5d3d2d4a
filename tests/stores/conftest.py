"""Store contract suites run against every backend: add a backend to the lists and a fixture
``<name>_history_factory`` / ``<name>_user_state_factory`` returning ``make(**settings) -> store``."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from streamrec.config import Settings
from streamrec.stores import HistoryStore, UserStateStore, open_history_store, open_user_state_store
from streamrec.testing.servers import PostgresServer, RedisServer
from streamrec.urls import sqlite_url

HistoryFactory = Callable[..., HistoryStore]
UserStateFactory = Callable[..., UserStateStore]
HISTORY_BACKENDS = ["sqlite", "redis", "postgres"]
USER_STATE_BACKENDS = ["sqlite", "redis", "postgres"]


@pytest.fixture
def sqlite_history_factory(tmp_path: Path) -> Iterator[HistoryFactory]:
    opened: list[HistoryStore] = []

    def make(**overrides: Any) -> HistoryStore:
        settings = Settings(data_dir=tmp_path, **overrides)
        store = open_history_store(settings, sqlite_url(tmp_path / f"h{len(opened)}.db"))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def sqlite_user_state_factory(tmp_path: Path) -> Iterator[UserStateFactory]:
    opened: list[UserStateStore] = []

    def make(**overrides: Any) -> UserStateStore:
        settings = Settings(data_dir=tmp_path, **overrides)
        store = open_user_state_store(settings, sqlite_url(tmp_path / f"s{len(opened)}.db"))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def redis_history_factory(tmp_path: Path, redis_server: RedisServer) -> Iterator[HistoryFactory]:
    """Each store gets its own key namespace on the session's Redis."""
    opened: list[HistoryStore] = []

    def make(**overrides: Any) -> HistoryStore:
        url = f"{redis_server.url}?namespace=h-{uuid.uuid4().hex[:12]}"
        store = open_history_store(Settings(data_dir=tmp_path, **overrides), url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def redis_user_state_factory(
    tmp_path: Path, redis_server: RedisServer
) -> Iterator[UserStateFactory]:
    opened: list[UserStateStore] = []

    def make(**overrides: Any) -> UserStateStore:
        url = f"{redis_server.url}?namespace=s-{uuid.uuid4().hex[:12]}"
        store = open_user_state_store(Settings(data_dir=tmp_path, **overrides), url)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def postgres_url_factory(postgres_server: PostgresServer) -> Iterator[Callable[[], str]]:
    """URLs of fresh schemas on the session's PostgreSQL (search_path picks the schema)."""
    schemas: list[str] = []

    def make() -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return f"{postgres_server.url}?options=-csearch_path%3D{schema}"

    yield make
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_history_factory(
    tmp_path: Path, postgres_url_factory: Callable[[], str]
) -> Iterator[HistoryFactory]:
    opened: list[HistoryStore] = []

    def make(**overrides: Any) -> HistoryStore:
        settings = Settings(data_dir=tmp_path, **overrides)
        store = open_history_store(settings, postgres_url_factory())
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def postgres_user_state_factory(
    tmp_path: Path, postgres_url_factory: Callable[[], str]
) -> Iterator[UserStateFactory]:
    opened: list[UserStateStore] = []

    def make(**overrides: Any) -> UserStateStore:
        settings = Settings(data_dir=tmp_path, **overrides)
        store = open_user_state_store(settings, postgres_url_factory())
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=HISTORY_BACKENDS)
def make_history(request: pytest.FixtureRequest) -> HistoryFactory:
    factory: HistoryFactory = request.getfixturevalue(f"{request.param}_history_factory")
    return factory


@pytest.fixture(params=USER_STATE_BACKENDS)
def make_user_state(request: pytest.FixtureRequest) -> UserStateFactory:
    factory: UserStateFactory = request.getfixturevalue(f"{request.param}_user_state_factory")
    return factory
