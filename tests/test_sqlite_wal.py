"""Every SQLite file's write-ahead log stays bounded under constant load (a long import while every
consumer group reads and writes at the same time)."""

from __future__ import annotations

import threading
from pathlib import Path

import pyarrow.csv as pacsv

from streamrec.importer import import_file
from streamrec.synthetic import generate_interactions
from tests.conftest import RuntimeFactory, drain

WAL_LIMIT = 1 << 20
# One group commit may add up to 20,000 events on top of the limit before it is checkpointed.
ONE_COMMIT = 4 << 20


class WalSizes:
    """Samples the size of every -wal file of a directory on a thread until stopped."""

    def __init__(self, data_dir: Path) -> None:
        self.largest: dict[str, int] = {}
        self._dir = data_dir
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> WalSizes:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _sample(self) -> None:
        while not self._stop.wait(0.005):
            for wal in self._dir.rglob("*-wal"):
                try:
                    size = wal.stat().st_size
                except FileNotFoundError:
                    continue
                self.largest[wal.name] = max(size, self.largest.get(wal.name, 0))


def test_wal_files_stay_bounded_during_a_long_import(
    make_runtime: RuntimeFactory, tmp_path: Path
) -> None:
    # batches of 1,000 events: ONE_COMMIT bounds what one such batch adds to a WAL
    runtime = make_runtime(sqlite_wal_max_bytes=WAL_LIMIT, datalake=False, consumer_batch_size=1000)
    csv = tmp_path / "events.csv"
    pacsv.write_csv(generate_interactions(2_000, 500, 120_000, seed=1), csv)
    runtime.start_consumers()
    with WalSizes(runtime.settings.data_dir) as sizes:
        report = import_file(
            csv, "csv", runtime.settings, runtime.event_log, progress=False, batch_size=5_000
        )
        drain(runtime)
    assert report.accepted == 120_000
    assert set(sizes.largest) >= {"stream.db-wal", "history.db-wal", "user_state.db-wal"}
    for name, largest in sizes.largest.items():
        assert largest <= WAL_LIMIT + ONE_COMMIT, f"{name} grew to {largest} bytes"
