"""The data side of the served evaluation: split an event table by a protocol of EVALUATION.md,
and bring the training part into a data dir the way ``streamrec import`` does.

The training rows go through the real import path (a CSV file, :func:`streamrec.importer.import_file`,
the stream, every consumer group until it has every event), so the user state, the lake and the
stream state hold exactly what a server would hold after the same import.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, cast

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from streamrec.config import Settings
from streamrec.errors import ValidationError
from streamrec.importer import CSV_COLUMNS, ImportReport, import_file
from streamrec.runtime import Runtime
from streamrec.training.interactions import encode_events
from streamrec.training.splits import leave_last_out_split, next_event_split

__all__ = [
    "PROTOCOLS",
    "Protocol",
    "ServedSplit",
    "import_training",
    "served_settings",
    "split_events",
]

Protocol = Literal["leave-last-out", "next-event"]
PROTOCOLS: tuple[Protocol, ...] = ("leave-last-out", "next-event")
IMPORT_BATCH_SIZE = 20_000  # as `streamrec import` catches up: one transaction per 20,000 events


@dataclass(frozen=True)
class ServedSplit:
    """The training events (sorted by timestamp, ties in file order) and one target per test user."""

    protocol: Protocol
    train: pa.Table
    users: list[str]  # test users' ids
    targets: list[str]  # each test user's target item id

    @property
    def event_types(self) -> tuple[str, ...]:
        """The event types of the training events, sorted."""
        if "event_type" not in self.train.column_names:
            return ("view",)
        return tuple(sorted(str(t) for t in pc.unique(self.train.column("event_type")).to_pylist()))


def split_events(table: pa.Table, protocol: str) -> ServedSplit:
    """Steps 1-2 of ``protocol`` on an event table (columns as streamrec.datasets loads them)."""
    ev = encode_events(table)
    if protocol == "leave-last-out":
        split = leave_last_out_split(ev.user, ev.item, ev.timestamp)
    elif protocol == "next-event":
        split = next_event_split(ev.user, ev.item, ev.timestamp)
    else:
        raise ValidationError(
            "protocol", f"unknown protocol {protocol!r}; one of {', '.join(PROTOCOLS)}"
        )
    train = table.filter(pa.array(split.train_mask))
    order = np.argsort(train.column("timestamp").to_numpy(), kind="stable")
    return ServedSplit(
        cast(Protocol, protocol),
        train.take(pa.array(order)),
        ev.users.ids(split.test_users),
        ev.items.ids(split.test_items),
    )


def served_settings(data_dir: Path, split: ServedSplit, base: Settings | None = None) -> Settings:
    """Settings for a fresh data dir: the serving defaults, except under leave-last-out, whose
    step 3 excludes every training item of the user: there every event type present is one to
    exclude once seen."""
    settings = dataclasses.replace(base or Settings(), data_dir=data_dir)
    if split.protocol == "leave-last-out":
        settings = dataclasses.replace(settings, exclude_seen_event_types=split.event_types)
    return settings


def training_csv(split: ServedSplit, path: Path) -> Path:
    """The training events as an import CSV (the import's columns only), in time order."""
    columns = [c for c in split.train.column_names if c in CSV_COLUMNS]
    table = split.train.select(columns)
    if "timestamp" in columns:  # the import takes plain decimal seconds
        table = table.set_column(
            columns.index("timestamp"),
            "timestamp",
            pc.cast(table.column("timestamp"), pa.float64()),
        )
    pacsv.write_csv(table, path)
    return path


def import_training(
    runtime: Runtime, split: ServedSplit, folder: Path, feed: bool = True
) -> ImportReport:
    """Import the training events and run every consumer group until it has all of them.

    With ``feed`` the realtime group runs with the serving sink, feeding ``runtime``'s in-memory
    stream state, as it does in a server that is running while the import goes in; without it,
    as `streamrec import` does with no server running."""
    report = import_file(
        training_csv(split, folder / "train.csv"), "csv", runtime.settings, runtime.event_log,
        progress=False, batch_size=IMPORT_BATCH_SIZE,
    )  # fmt: skip
    if report.rejected:
        first = report.errors[0] if report.errors else (0, "")
        raise ValidationError(
            "dataset", f"{report.rejected} training rows refused, e.g. line {first[0]}: {first[1]}"
        )
    for group in runtime.enabled_groups():
        runner = runtime.make_runner(group, IMPORT_BATCH_SIZE, serving=feed and group == "realtime")
        runner.drain()
        runner.close()
    return report
