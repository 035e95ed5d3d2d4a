"""Where the lake keeps what, and in which shape: the one module that knows paths and the schema.

Layout under the lake root (``settings.lake_location``: a local path or an fsspec URL)::

    events/dt=YYYY-MM-DD/shard=SSSS-FFFFFFFFFFFFFFFFFFFF-LLLLLLLLLLLLLLLLLLLL.parquet
    erasures/<requested_at>-<random>.parquet      one row per ``erase`` request (tombstones)

``dt`` is the UTC date of ``received_at`` (when the server accepted the event), not of the event's
own ``timestamp``. Why: received_at grows with the stream offset, so one flush of one shard lands
in one directory (at most two around midnight), and a bulk import of years of history makes a few
large files instead of one tiny file per historical day. A query on event time can still prune:
validation refuses timestamps more than 5 minutes after receipt, so ``timestamp >= T`` implies
``dt >= date(T - 300 s)`` (see :func:`earliest_day_for`).

A file holds one shard's records with offsets ``F..L`` (inclusive, 20 digits so names sort in
offset order). The writer learns, per shard, the highest ``L`` already stored and skips records up
to it, so replaying the stream after a crash stores nothing twice.

Schema (every :class:`~streamrec.events.Event` field, plus where it sat in the stream):

================== ======================== ====================================================
column             type                     meaning
================== ======================== ====================================================
event_id           string, not null         unique id; a client retry repeats it (de-dup key)
user_id            string, not null
item_id            string, not null
event_type         string, not null         view, click, purchase, rating, ...
event_value        float64                  rating, price; null when absent
session_id         string
timestamp          timestamp[us, UTC]       when it happened (client's clock)
received_at        timestamp[us, UTC]       when the server accepted it
properties         string                   the flat properties object as JSON text
impression         list<string>             item ids shown alongside
recommendation_id  string
shard              int32, not null          stream shard
offset             int64, not null          stream offset in the shard (quote it in SQL: "offset")
================== ======================== ====================================================

DuckDB adds ``dt`` (a DATE) from the directory name.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re

import pyarrow as pa

from streamrec.events import FUTURE_TOLERANCE_S

__all__ = [
    "ERASURES_DIR",
    "ERASURE_SCHEMA",
    "EVENTS_DIR",
    "SCHEMA",
    "FileName",
    "day_dir",
    "day_of",
    "earliest_day_for",
    "file_name",
    "parse_file_name",
]

EVENTS_DIR = "events"
ERASURES_DIR = "erasures"

_TS = pa.timestamp("us", tz="UTC")
SCHEMA = pa.schema(
    [
        pa.field("event_id", pa.string(), nullable=False),
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("item_id", pa.string(), nullable=False),
        pa.field("event_type", pa.string(), nullable=False),
        pa.field("event_value", pa.float64()),
        pa.field("session_id", pa.string()),
        pa.field("timestamp", _TS),
        pa.field("received_at", _TS),
        pa.field("properties", pa.string()),
        pa.field("impression", pa.list_(pa.string())),
        pa.field("recommendation_id", pa.string()),
        pa.field("shard", pa.int32(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
    ]
)

ERASURE_SCHEMA = pa.schema(
    [
        pa.field("user_id", pa.string(), nullable=False),
        pa.field("requested_at", _TS, nullable=False),
    ]
)

_NAME = re.compile(r"^shard=(\d{4,})-(\d{20})-(\d{20})\.parquet$")


@dataclasses.dataclass(frozen=True, slots=True, order=True)
class FileName:
    """What a lake file's name says: its shard and inclusive offset range."""

    shard: int
    first: int
    last: int


def file_name(shard: int, first: int, last: int) -> str:
    return f"shard={shard:04d}-{first:020d}-{last:020d}.parquet"


def parse_file_name(name: str) -> FileName | None:
    """Shard and range from a base name; None for anything else (temporary files)."""
    match = _NAME.match(name)
    if match is None:
        return None
    return FileName(int(match[1]), int(match[2]), int(match[3]))


def day_of(epoch_seconds: float) -> str:
    """The ``dt`` partition (UTC date, YYYY-MM-DD) of a received_at time."""
    return dt.datetime.fromtimestamp(epoch_seconds, dt.UTC).strftime("%Y-%m-%d")


def earliest_day_for(since: float) -> str:
    """The first ``dt`` that can hold an event whose timestamp is at or after `since`."""
    return day_of(max(0.0, since - FUTURE_TOLERANCE_S))


def day_dir(root: str, day: str) -> str:
    return f"{root.rstrip('/')}/{EVENTS_DIR}/dt={day}"
