"""Store contract suites run against every backend: add a backend to the lists and a fixture
``<name>_store_urls`` returning ``make(kind) -> URL`` of a fresh, empty store (tests/store_urls.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from streamrec.config import Settings
from streamrec.stores import HistoryStore, UserStateStore, open_history_store, open_user_state_store
from streamrec.stores.base import PositionedSink
from tests.store_urls import UrlFactory

HistoryFactory = Callable[..., HistoryStore]
UserStateFactory = Callable[..., UserStateStore]
HISTORY_BACKENDS = ["sqlite", "redis", "postgres"]
USER_STATE_BACKENDS = ["sqlite", "redis", "postgres"]
S = TypeVar("S", bound=PositionedSink)


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
