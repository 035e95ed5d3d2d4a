"""pytest plugin: ``<backend>_store_urls`` fixtures, each ``make(kind) -> URL`` of a fresh, empty
store on that backend, for the contract suites run against every backend (tests/stores,
tests/attribution, tests/experiments)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from streamrec.testing.servers import PostgresServer, RedisServer
from streamrec.urls import sqlite_url

UrlFactory = Callable[[str], str]  # kind ("history", "state", ...) -> URL of a fresh, empty store


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
