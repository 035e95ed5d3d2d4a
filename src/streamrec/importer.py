"""Bulk import of historical interactions (CSV, JSONL, MovieLens u.data) through the stream.

Imported events take the same path as live ones: validated, appended to the stream, then applied
by the consumers (waiting for them is the CLI's job). Validation follows
:func:`streamrec.events.validate_event` exactly, but a per-row Python call costs about 5 us, too
slow for the 100,000 events/s goal. So each CSV chunk is checked column-wise with Arrow kernels
first; rows that pass are certainly valid and become events in bulk, and only the others go
through ``validate_event`` itself, which decides (an ISO-8601 timestamp is valid but not in the
fast path) and words the error.

Line numbers in the report are 1-based lines of the file (the CSV header is line 1). They assume
no field contains a line break, which holds for interaction files (ids, numbers, timestamps).
"""

from __future__ import annotations

import bisect
import csv
import dataclasses
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any, BinaryIO, Literal

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from streamrec.config import Settings
from streamrec.errors import ValidationError
from streamrec.events import (
    FUTURE_TOLERANCE_S,
    MAX_EVENT_TYPE_LENGTH,
    MAX_ID_LENGTH,
    MILLISECONDS_THRESHOLD,
    Event,
    validate_event,
)
from streamrec.stream import EventLog, open_event_log
from streamrec.textfiles import require_utf8

__all__ = ["CSV_COLUMNS", "ImportFormat", "ImportReport", "check_csv_header", "import_file"]

ImportFormat = Literal["csv", "jsonl", "movielens"]
CSV_COLUMNS = ("user_id", "item_id", "timestamp", "event_type", "event_value", "session_id",
               "event_id")  # fmt: skip
REQUIRED_COLUMNS = ("user_id", "item_id", "timestamp")
MOVIELENS_COLUMNS = ["user_id", "item_id", "event_value", "timestamp"]
MAX_REPORTED_ERRORS = 1000
_BLOCK_BYTES = 4 << 20
_JSONL_LINES = 20_000
_IN_FLIGHT = 2  # appends waiting while the next chunk is parsed
# A subset of what float() accepts, and exactly what Arrow's string->double cast accepts.
_NUMBER = r"^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$"


@dataclasses.dataclass
class ImportReport:
    """How an import went. `errors` holds the first MAX_REPORTED_ERRORS (line, message) pairs."""

    path: str
    accepted: int = 0
    rejected: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)
    elapsed_s: float = 0.0

    @property
    def rate(self) -> float:
        """Rows (accepted and rejected) per second."""
        return (self.accepted + self.rejected) / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, message))


class _EventIds:
    """Ids in the format of streamrec.events.new_event_id (ms, random prefix, counter), in bulk."""

    def __init__(self) -> None:
        self._prefix = os.urandom(5).hex()
        self._counter = 0

    def take(self, n: int, now: float) -> list[str]:
        head = f"{int(now * 1000):012x}{self._prefix}"
        start = self._counter
        self._counter += n
        return [f"{head}{i & 0xFFFFFFFF:08x}" for i in range(start, start + n)]


def import_file(
    path: str | Path,
    fmt: ImportFormat,
    settings: Settings,
    event_log: EventLog | None = None,
    progress: bool = True,
    batch_size: int = 20_000,
) -> ImportReport:
    """Validate every row of `path` and append the valid ones to the stream in batches. A file
    that is not UTF-8 is refused whole (ValidationError) before anything is appended."""
    path = Path(path)
    require_utf8(path, "path")
    own_log = event_log is None
    log = open_event_log(settings) if event_log is None else event_log
    batch_size = max(1, min(batch_size, settings.max_pending_events // (_IN_FLIGHT + 1)))
    report = ImportReport(str(path))
    started = time.perf_counter()
    try:
        with path.open("rb") as fh, _progress_bar(path, progress) as bar:
            appender = _Appender(log, batch_size)
            for events, fh_pos in _events(fh, fmt, report):
                appender.add(events)
                bar(fh_pos)
            appender.finish()
    finally:
        if own_log:
            log.close()
    report.elapsed_s = time.perf_counter() - started
    return report


class _Appender:
    """Appends in batches, keeping a few in flight so parsing overlaps the stream's writes."""

    def __init__(self, log: EventLog, batch_size: int) -> None:
        self._log = log
        self._batch_size = batch_size
        self._in_flight: list[Future[None]] = []

    def add(self, events: list[Event]) -> None:
        for start in range(0, len(events), self._batch_size):
            if len(self._in_flight) >= _IN_FLIGHT:
                self._in_flight.pop(0).result()
            self._in_flight.append(self._log.submit(events[start : start + self._batch_size]))

    def finish(self) -> None:
        for future in self._in_flight:
            future.result()
        self._in_flight.clear()


def _events(
    fh: BinaryIO, fmt: ImportFormat, report: ImportReport
) -> Iterator[tuple[list[Event], int]]:
    """(valid events of a chunk, bytes of the file consumed so far); rejections go to report."""
    if fmt == "jsonl":
        yield from _jsonl_events(fh, report)
        return
    if fmt not in ("csv", "movielens"):
        raise ValidationError("format", f"unknown import format {fmt!r}: csv, jsonl or movielens")
    lines = _Lines(
        first=1 if fmt == "movielens" else 2, report=report, hint=_FIELD_HINTS.get(fmt, "")
    )
    reader = _open_csv(fh, fmt, lines)
    ids = _EventIds()
    row = 0
    for batch in reader:
        table = _canonical(pa.Table.from_batches([batch]), fmt)
        yield (
            _chunk_events(table, lines.from_row(row), time.time(), ids, report),
            fh.tell(),
        )
        row += batch.num_rows


# Said after "expected N fields, got M": a comma-separated file given as MovieLens is one field
# a line.
_FIELD_HINTS = {"movielens": " (the MovieLens format is tab-separated: user, item, rating, time)"}


class _Lines:
    """Maps a data row to its file line, allowing for the rows the CSV parser skipped (wrong
    number of fields), which it reports through `skip` as it meets them, followed by ``hint``."""

    def __init__(self, first: int, report: ImportReport, hint: str = "") -> None:
        self._first = first
        self._report = report
        self._hint = hint
        self._skipped: list[int] = []

    def skip(self, row: pacsv.InvalidRow) -> str:
        line = int(row.number or 0)
        self._report.reject(
            line, f"expected {row.expected_columns} fields, got {row.actual_columns}{self._hint}"
        )
        bisect.insort(self._skipped, line)
        return "skip"

    def from_row(self, start: int) -> Callable[[int], int]:
        """Line numbers for the rows of a chunk that starts at data row `start`."""
        return lambda r: self.of(start + r)

    def of(self, row: int) -> int:
        line = self._first + row
        while True:  # the row-th line not skipped: each skipped line at or before it shifts it
            shifted = self._first + row + bisect.bisect_right(self._skipped, line)
            if shifted == line:
                return line
            line = shifted


def _open_csv(fh: BinaryIO, fmt: ImportFormat, lines: _Lines) -> pacsv.CSVStreamingReader:
    """A streaming reader with every column read as text. Serial parsing (use_threads=False) is
    what makes Arrow report the line number of a row it skips; the stream's writer thread keeps
    the second core busy anyway."""
    if fmt == "movielens":
        read = pacsv.ReadOptions(
            column_names=MOVIELENS_COLUMNS, block_size=_BLOCK_BYTES, use_threads=False
        )
        parse = pacsv.ParseOptions(delimiter="\t", invalid_row_handler=lines.skip)
        types = dict.fromkeys(MOVIELENS_COLUMNS, pa.string())
        return pacsv.open_csv(fh, read, parse, pacsv.ConvertOptions(column_types=types))
    header = next(csv.reader([fh.readline().decode("utf-8-sig")]), [])
    fh.seek(0)
    _check_header(header)
    types = dict.fromkeys(header, pa.string())
    read = pacsv.ReadOptions(block_size=_BLOCK_BYTES, encoding="utf8", use_threads=False)
    parse = pacsv.ParseOptions(invalid_row_handler=lines.skip)
    return pacsv.open_csv(fh, read, parse, pacsv.ConvertOptions(column_types=types))


def check_csv_header(path: Path) -> None:
    """ValidationError naming the column when the CSV's header row has an unknown column or
    lacks a required one: what :func:`import_file` would refuse first, checked without opening
    the stream (the CLI asks before it opens anything)."""
    with path.open("rb") as fh:
        _check_header(next(csv.reader([fh.readline().decode("utf-8-sig")]), []))


def _check_header(header: list[str]) -> None:
    names = [h.strip().lower() for h in header]
    unknown = [h for h, n in zip(header, names, strict=True) if n not in CSV_COLUMNS]
    if unknown:
        raise ValidationError(
            unknown[0], f"is not an import column; columns: {', '.join(CSV_COLUMNS)}"
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    if missing:
        raise ValidationError(missing[0], "column is missing from the CSV header")


def _canonical(table: pa.Table, fmt: ImportFormat) -> pa.Table:
    """Lower-case column names (Amazon Personalize writes USER_ID...), empty cells as null."""
    names = [n.strip().lower().removeprefix("\ufeff") for n in table.column_names]
    table = table.rename_columns(names)
    columns = {n: pc.if_else(pc.equal(table.column(n), ""), None, table.column(n)) for n in names}
    if fmt == "movielens":
        columns["event_type"] = pa.chunked_array([pa.array(["rating"] * table.num_rows)])
    return pa.table(columns)


def _chunk_events(
    table: pa.Table,
    line_of: Callable[[int], int],
    now: float,
    ids: _EventIds,
    report: ImportReport,
) -> list[Event]:
    """The valid rows of a chunk as events, in file order; invalid rows are reported."""
    ok, timestamps, values = _fast_checks(table, now)
    events = _bulk_events(table.filter(pa.array(ok)), timestamps[ok], values[ok], now, ids)
    bad = np.flatnonzero(~ok)
    if bad.size == 0:
        report.accepted += len(events)
        return events
    by_row: dict[int, Event] = dict(zip(np.flatnonzero(ok).tolist(), events, strict=True))
    for row, raw in zip(bad.tolist(), table.take(pa.array(bad)).to_pylist(), strict=True):
        try:
            by_row[row] = validate_event({k: v for k, v in raw.items() if v is not None}, now)
        except ValidationError as exc:
            report.reject(line_of(row), str(exc))
    report.accepted += len(by_row)
    return [by_row[row] for row in sorted(by_row)]


def _fast_checks(table: pa.Table, now: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows certainly valid under validate_event's rules, with their parsed timestamp and value."""
    ok = _id_ok(table, "user_id", True) & _id_ok(table, "item_id", True)
    for name in ("session_id", "event_id"):
        ok &= _id_ok(table, name, False)
    if "event_type" in table.column_names:
        lengths = pc.utf8_length(table.column("event_type"))
        ok &= _mask(
            pc.or_(
                pc.is_null(lengths),
                pc.and_(
                    pc.greater_equal(lengths, 1), pc.less_equal(lengths, MAX_EVENT_TYPE_LENGTH)
                ),
            )
        )
    timestamps, ts_ok = _numbers(table, "timestamp", default=now)
    ok &= ts_ok & (timestamps >= 0) & (timestamps <= MILLISECONDS_THRESHOLD)
    ok &= timestamps <= now + FUTURE_TOLERANCE_S
    values, value_ok = _numbers(table, "event_value", default=np.nan)
    return ok & value_ok, timestamps, values


def _id_ok(table: pa.Table, name: str, required: bool) -> np.ndarray:
    if name not in table.column_names:
        return np.full(table.num_rows, not required)
    lengths = pc.utf8_length(table.column(name))
    in_range = pc.and_(pc.greater_equal(lengths, 1), pc.less_equal(lengths, MAX_ID_LENGTH))
    return _mask(pc.or_(pc.is_null(lengths), in_range) if not required else in_range)


def _numbers(table: pa.Table, name: str, default: float) -> tuple[np.ndarray, np.ndarray]:
    """(float64 values, row is a plain finite number or empty); empty cells get `default`."""
    n = table.num_rows
    if name not in table.column_names:
        return np.full(n, default), np.ones(n, dtype=bool)
    text = table.column(name)
    numeric = _mask(pc.match_substring_regex(text, _NUMBER))
    present = _mask(pc.is_valid(text))
    safe = pc.if_else(pa.array(numeric), text, "0")
    values = np.asarray(pc.cast(safe, pa.float64()).to_numpy(), dtype=np.float64)
    values = np.where(present, values, default)
    return values, (numeric | ~present) & (np.isfinite(values) | ~present)


def _mask(array: Any) -> np.ndarray:
    """A boolean Arrow array (nulls as False) as numpy."""
    return np.asarray(pc.fill_null(array, False).to_numpy(zero_copy_only=False), dtype=bool)


def _column(table: pa.Table, name: str) -> list[Any]:
    if name not in table.column_names:
        return [None] * table.num_rows
    return list(table.column(name).to_pylist())


def _bulk_events(
    table: pa.Table, timestamps: np.ndarray, values: np.ndarray, now: float, ids: _EventIds
) -> list[Event]:
    given = _column(table, "event_id")
    fresh = iter(ids.take(sum(1 for g in given if g is None), now))
    event_ids = [g if g is not None else next(fresh) for g in given]
    types = [t or "view" for t in _column(table, "event_type")]
    value_list = [None if v != v else v for v in values.tolist()]  # NaN marks "no value"
    return [
        Event(e, u, i, t, now, et, v, s)
        for e, u, i, t, et, v, s in zip(
            event_ids,
            _column(table, "user_id"),
            _column(table, "item_id"),
            timestamps.tolist(),
            types,
            value_list,
            _column(table, "session_id"),
            strict=True,
        )
    ]


def _jsonl_events(fh: BinaryIO, report: ImportReport) -> Iterator[tuple[list[Event], int]]:
    """JSON lines go through validate_event one by one: they may carry any event field."""
    decoder = msgspec.json.Decoder()
    events: list[Event] = []
    now = time.time()
    for line_no, line in enumerate(fh, start=1):
        if not line.strip():
            continue
        try:
            events.append(validate_event(decoder.decode(line), now))
        except (ValidationError, msgspec.DecodeError) as exc:
            message = str(exc) if isinstance(exc, ValidationError) else f"invalid JSON: {exc}"
            report.reject(line_no, message)
        if len(events) >= _JSONL_LINES:
            report.accepted += len(events)
            yield events, fh.tell()
            events, now = [], time.time()
    report.accepted += len(events)
    yield events, fh.tell()


class _progress_bar:
    """A rich progress bar over the file's bytes; a no-op when progress is off."""

    def __init__(self, path: Path, enabled: bool) -> None:
        self._enabled = enabled
        self._total = path.stat().st_size
        self._name = path.name
        self._progress: Any = None
        self._task: Any = None

    def __enter__(self) -> _progress_bar:
        if self._enabled:
            from rich.progress import (
                BarColumn,
                DownloadColumn,
                Progress,
                TextColumn,
                TimeRemainingColumn,  # fmt: skip
                TransferSpeedColumn,
            )

            self._progress = Progress(
                TextColumn("importing {task.description}"),
                BarColumn(),
                DownloadColumn(),
                TransferSpeedColumn(),
                TimeRemainingColumn(),
            )
            self._progress.start()
            self._task = self._progress.add_task(self._name, total=self._total)
        return self

    def __call__(self, position: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=position)

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()
