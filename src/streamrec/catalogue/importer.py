"""Loading a catalogue from files: CSV, JSON lines, or MovieLens ``u.item``.

Every row goes through :func:`validate_item`, so a file is held to the same rules as the HTTP API;
bad rows are reported with their line numbers and the rest are stored, in batches of 500.

- ``csv``: a header row; ``item_id`` (or Personalize's ``ITEM_ID``), optional ``title``,
  ``categories`` or ``genres`` (``|``-separated, as in Personalize's items data set),
  ``created_at`` (epoch seconds or ISO-8601; Personalize's ``CREATION_TIMESTAMP`` too), ``hidden``
  (true/false/1/0); every other column becomes a property (numbers parsed as numbers).
- ``jsonl``: one item object per line, as ``PUT /v1/items/{item_id}`` takes it.
- ``movielens``: ``u.item`` (``id|title|release date|video date|url|19 genre flags``, Latin-1);
  genre names come from ``u.genre`` next to it, else MovieLens 100k's published list.
"""

from __future__ import annotations

import csv
import dataclasses
import json
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from streamrec.catalogue.base import Item, ItemCatalogue, chunks, validate_item
from streamrec.errors import ValidationError
from streamrec.textfiles import require_utf8

__all__ = ["FORMATS", "ImportReport", "import_items", "read_items"]

Format = Literal["csv", "jsonl", "movielens"]
FORMATS: tuple[str, ...] = ("csv", "jsonl", "movielens")
MOVIELENS_GENRES: tuple[str, ...] = (
    "unknown", "Action", "Adventure", "Animation", "Children's", "Comedy", "Crime", "Documentary",
    "Drama", "Fantasy", "Film-Noir", "Horror", "Musical", "Mystery", "Romance", "Sci-Fi",
    "Thriller", "War", "Western",
)  # fmt: skip
_CSV_ALIASES = {
    "item_id": "item_id", "title": "title", "categories": "categories", "genres": "categories",
    "created_at": "created_at", "creation_timestamp": "created_at", "hidden": "hidden",
}  # fmt: skip
MAX_REPORTED_ERRORS = 100

Row = tuple[int, Any]  # (line number, raw item object, MalformedLine or ValidationError)


@dataclasses.dataclass(frozen=True)
class MalformedLine:
    """A line no item could be read from at all; reported by its line number alone (a
    ValidationError would name a field, and a line has none)."""

    message: str


@dataclasses.dataclass
class ImportReport:
    accepted: int = 0
    rejected: int = 0
    errors: list[tuple[int, str]] = dataclasses.field(default_factory=list)

    def reject(self, line: int, message: str) -> None:
        self.rejected += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append((line, message))


def _scalar(text: str) -> str | int | float:
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _hidden(text: str) -> bool | str:
    lowered = text.strip().lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no", ""):
        return False
    return text  # validation names the field


def csv_row_to_raw(row: dict[str, str]) -> dict[str, Any]:
    raw: dict[str, Any] = {}
    properties: dict[str, Any] = {}
    for column, value in row.items():
        key = _CSV_ALIASES.get((column or "").strip().lower())
        if key is None:
            if value not in (None, ""):
                properties[str(column).strip()] = _scalar(value)
        elif key == "categories":
            raw[key] = [c.strip() for c in (value or "").split("|") if c.strip()]
        elif key == "hidden":
            raw[key] = _hidden(value or "")
        elif key == "created_at":
            raw[key] = _scalar(value) if value else None
        elif value not in (None, ""):
            raw[key] = value
    if properties:
        raw["properties"] = properties
    return raw


def _csv_rows(path: Path) -> Iterator[Row]:
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        for row in reader:
            yield reader.line_num, csv_row_to_raw(row)


def _jsonl_rows(path: Path) -> Iterator[Row]:
    with path.open(encoding="utf-8") as fh:
        for line_no, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                yield line_no, json.loads(line)
            except json.JSONDecodeError as exc:
                yield line_no, MalformedLine(f"malformed JSON: {exc.msg}")


def movielens_genres(path: Path) -> tuple[str, ...]:
    genre_file = path.with_name("u.genre")
    if not genre_file.exists():
        return MOVIELENS_GENRES
    pairs = []
    for line in genre_file.read_text(encoding="latin-1").splitlines():
        name, _, index = line.rpartition("|")
        if name and index.strip().isdigit():
            pairs.append((int(index), name))
    return tuple(name for _, name in sorted(pairs)) or MOVIELENS_GENRES


def movielens_row_to_raw(fields: list[str], genres: tuple[str, ...]) -> dict[str, Any]:
    flags = fields[-len(genres) :]
    raw: dict[str, Any] = {
        "item_id": fields[0],
        "title": fields[1],
        "categories": [g for g, flag in zip(genres, flags, strict=True) if flag.strip() == "1"],
    }
    if fields[2]:
        released = datetime.strptime(fields[2], "%d-%b-%Y").replace(tzinfo=UTC)
        raw["created_at"] = released.timestamp()
    url = fields[-len(genres) - 1]
    if url:
        raw["properties"] = {"url": url}
    return raw


def _movielens_rows(path: Path) -> Iterator[Row]:
    genres = movielens_genres(path)
    with path.open(encoding="latin-1") as fh:
        for line_no, line in enumerate(fh, start=1):
            fields = line.rstrip("\r\n").split("|")
            if not line.strip():
                continue
            if len(fields) < len(genres) + 3:
                yield line_no, MalformedLine(f"expected {len(genres) + 3}+ fields")
                continue
            try:
                yield line_no, movielens_row_to_raw(fields, genres)
            except ValueError as exc:
                yield line_no, ValidationError("created_at", str(exc))


_READERS: dict[str, Callable[[Path], Iterator[Row]]] = {
    "csv": _csv_rows, "jsonl": _jsonl_rows, "movielens": _movielens_rows,
}  # fmt: skip


def read_items(path: Path, fmt: str, report: ImportReport) -> Iterator[Item]:
    """Valid items of the file; rejected rows go into ``report`` with their line numbers."""
    if fmt not in _READERS:
        raise ValidationError("format", f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    if not path.exists():
        raise ValidationError("path", f"file not found: {path}")
    if fmt != "movielens":  # u.item is Latin-1: any bytes are text
        require_utf8(path, "path")  # refused whole, before a batch is stored
    for line_no, raw in _READERS[fmt](path):
        if isinstance(raw, MalformedLine):
            report.reject(line_no, raw.message)
            continue
        if isinstance(raw, ValidationError):
            report.reject(line_no, str(raw))
            continue
        try:
            yield validate_item(raw)
        except ValidationError as exc:
            report.reject(line_no, str(exc))


def import_items(
    catalogue: ItemCatalogue, path: Path, fmt: str, batch_size: int = 500
) -> ImportReport:
    report = ImportReport()
    for batch in chunks(read_items(path, fmt, report), batch_size):
        report.accepted += catalogue.upsert(batch)
    return report
