"""Store contract suites run against every backend: add a backend to the lists and a fixture
``<name>_store_urls`` returning ``make(kind) -> URL`` of a fresh, empty store."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import psycopg
import pytest

from streamrec.config import Settings
from streamrec.stores import HistoryStore, UserStateStore, open_history_store, open_user_state_store
from streamrec.stores.base import PositionedSink
from streamrec.testing.servers import PostgresServer, RedisServer
from streamrec.urls import sqlite_url

HistoryFactory = Callable[..., HistoryStore]
UserStateFactory = Callable[..., UserStateStore]
HISTORY_BACKENDS = ["sqlite", "redis", "postgres"]
USER_STATE_BACKENDS = ["sqlite", "redis", "postgres"]
S = TypeVar("S", bound=PositionedSink)


UrlFactory = Callable[[str], str]  # kind ("history" or "state") -> URL of a fresh, empty store


@pytest.fixture
def sqlite_store_urls(tmp_path: Path) -> UrlFactory:
    return lambda kind: sqlite_url(tmp_path / f"{kind}-{uuid.uuid4().hex[:12]}.db")


@pytest.fixture
def redis_store_urls(redis_server: RedisServer) -> UrlFactory:
    """Each store gets its own key namespace on the session's Redis."""
    return lambda kind: f"{redis_server.url}?namespace={kind}-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def postgres_store_urls(postgres_server: PostgresServer) -> Iterator[UrlFactory]:
    """URLs of fresh schemas on the session's PostgreSQL (search_path picks the schema)."""
    schemas: list[str] = []

    def make(kind: str) -> str:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(postgres_server.url, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return f"{postgres_server.url}?options=-csearch_path%3D{schema}"

    yield make
    with psycopg.connect(postgres_server.url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def _store_factory(
    request: pytest.FixtureRequest, tmp_path: Path, kind: str, opener: Callable[[Settings, str], S]
) -> Iterator[Callable[..., S]]:
    """``make(**settings) -> store`` on the backend named by the fixture's param; closes them all."""
    urls: UrlFactory = request.getfixturevalue(f"{request.param}_store_urls")
    opened: list[S] = []

    def make(**overrides: Any) -> S:
        store = opener(Settings(data_dir=tmp_path, **overrides), urls(kind))
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=HISTORY_BACKENDS)
def make_history(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[HistoryFactory]:
    yield from _store_factory(request, tmp_path, "history", open_history_store)


@pytest.fixture(params=USER_STATE_BACKENDS)
def make_user_state(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[UserStateFactory]:
    yield from _store_factory(request, tmp_path, "state", open_user_state_store)
