"""Store contract suites run against every backend: add a backend to the lists and a fixture
``<name>_history_factory`` / ``<name>_user_state_factory`` returning ``make(**settings) -> store``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from streamrec.config import Settings
from streamrec.stores import HistoryStore, UserStateStore, open_history_store, open_user_state_store
from streamrec.urls import sqlite_url

HistoryFactory = Callable[..., HistoryStore]
UserStateFactory = Callable[..., UserStateStore]
HISTORY_BACKENDS = ["sqlite"]
USER_STATE_BACKENDS = ["sqlite"]


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


@pytest.fixture(params=HISTORY_BACKENDS)
def make_history(request: pytest.FixtureRequest) -> HistoryFactory:
    factory: HistoryFactory = request.getfixturevalue(f"{request.param}_history_factory")
    return factory


@pytest.fixture(params=USER_STATE_BACKENDS)
def make_user_state(request: pytest.FixtureRequest) -> UserStateFactory:
    factory: UserStateFactory = request.getfixturevalue(f"{request.param}_user_state_factory")
    return factory
