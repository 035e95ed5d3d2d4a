"""The experiment store's contract, on each backend (SQLite, PostgreSQL): what two API processes
sharing one store see, and a request path that never waits on (or fails with) the database."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from streamrec.config import Settings
from streamrec.errors import NotFoundError, StoreUnavailable, ValidationError
from streamrec.experiments.definition import ExperimentSpec, Variant
from streamrec.experiments.store import (
    Check,
    ExperimentStore,
    SqliteExperimentTable,
    open_experiment_store,
)
from tests.store_urls import UrlFactory

BACKENDS = ["sqlite", "postgres"]

Opener = Callable[[], ExperimentStore]


def spec(*routes: str, campaigns: tuple[str, str] = ("default", "new")) -> ExperimentSpec:
    variants = [Variant("control", campaigns[0], 0.5), Variant("challenger", campaigns[1], 0.5)]
    return ExperimentSpec(variants, "click", list(routes) or ["recommendations"])


@pytest.fixture(params=BACKENDS)
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """``open_store()``: one more process's view of the same store."""
    urls: UrlFactory = request.getfixturevalue(f"{request.param}_store_urls")
    settings = Settings(data_dir=tmp_path, experiments_url=urls("experiments"))
    opened: list[ExperimentStore] = []

    def make() -> ExperimentStore:
        opened.append(open_experiment_store(settings))
        return opened[-1]

    yield make
    for store in opened:
        store.close()


def eventually(check: Callable[[], bool], timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.02)
    return False


def test_definitions_round_trip_and_list_by_name(open_store: Opener) -> None:
    store = open_store()
    store.put("b-test", spec("rank"), now=100.0)
    store.put("a-test", spec("recommendations"), now=200.0)
    assert [e.name for e in store.all()] == ["a-test", "b-test"]
    got = open_store().get("b-test")
    assert (got.routes, got.status, got.created_at) == (["rank"], "running", 100.0)
    assert got.variants[1] == Variant("challenger", "new", 0.5)
    with pytest.raises(NotFoundError):
        store.get("missing")


def test_one_running_experiment_per_route_across_processes(open_store: Opener) -> None:
    first, second = open_store(), open_store()
    first.put("first", spec("recommendations"))
    with pytest.raises(ValidationError) as refused:
        second.put("second", spec("recommendations", "rank"))
    assert refused.value.field == "routes"
    second.stop("first", now=300.0)
    second.put("second", spec("recommendations"))
    assert {e.name: e.status for e in first.all()} == {"first": "stopped", "second": "running"}
    assert first.get("first").stopped_at == 300.0


def test_another_process_sees_a_change_within_its_refresh(open_store: Opener) -> None:
    writer, reader = open_store(), open_store()
    assert reader.running_for("recommendations") is None
    writer.put("ab", spec())
    assert writer.running_for("recommendations") is not None  # its own change: at once
    seen = lambda: (e := reader.running_for("recommendations")) is not None and e.name == "ab"  # noqa: E731
    assert eventually(seen)
    writer.stop("ab")
    assert eventually(lambda: reader.running_for("recommendations") is None)


class FailingTable:
    """A table whose database went away after the first read."""

    def __init__(self, path: Path) -> None:
        self.inner = SqliteExperimentTable(path)
        self.down = False
        self.reads = 0

    def bodies(self) -> list[bytes]:
        self.reads += 1
        if self.down:
            raise StoreUnavailable("experiments: postgresql unavailable")
        return self.inner.bodies()

    def body(self, name: str) -> bytes | None:
        return self.inner.body(name)

    def write(self, name: str, body: bytes, check: Check) -> None:
        self.inner.write(name, body, check)

    def close(self) -> None:
        self.inner.close()


def test_the_request_path_keeps_the_last_read_while_the_database_is_down(tmp_path: Path) -> None:
    table = FailingTable(tmp_path / "experiments.db")
    store = ExperimentStore(table, refresh_s=0.0)
    store.put("ab", spec())
    table.down = True
    reads = table.reads
    for _ in range(50):
        running = store.running_for("recommendations")
        assert running is not None and running.name == "ab"
    assert eventually(lambda: table.reads > reads)  # re-reads were tried, on a thread
    store.close()
