"""The attribution store on every backend: the rules' tests (test_sink.py) are its contract suite.
``open_store()`` opens the test's store (again: a restart); each is closed at the end."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.attribution.store import AttributionStore, open_attribution_store
from streamrec.config import Settings
from tests.store_urls import UrlFactory

ATTRIBUTION_BACKENDS = ["sqlite", "postgres"]

StoreOpener = Callable[[], AttributionStore]


@pytest.fixture(params=ATTRIBUTION_BACKENDS)
def attribution_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    urls: UrlFactory = request.getfixturevalue(f"{request.param}_store_urls")
    return Settings(data_dir=tmp_path, attribution_url=urls("attribution"))


@pytest.fixture
def open_store(attribution_settings: Settings) -> Iterator[StoreOpener]:
    opened: list[AttributionStore] = []

    def make() -> AttributionStore:
        opened.append(open_attribution_store(attribution_settings))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


@pytest.fixture
def store(open_store: StoreOpener) -> AttributionStore:
    return open_store()
