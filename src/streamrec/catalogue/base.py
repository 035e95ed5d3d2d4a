"""The item catalogue: what an item is, how a raw item is validated, and the storage protocol.

An item carries ``title``, ``categories`` (a list of text), ``properties`` (a flat JSON object, like
an event's), ``created_at`` (epoch seconds) and ``hidden`` (never recommended). Validation lives
here, once, so the HTTP routes and the importer reject the same things with the same field names.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import msgspec

from streamrec.errors import ValidationError
from streamrec.events import MAX_ID_LENGTH, MILLISECONDS_THRESHOLD, PropertyValue

__all__ = [
    "MAX_CATEGORIES",
    "MAX_ITEMS_PER_REQUEST",
    "Item",
    "ItemCatalogue",
    "validate_item",
    "validate_items",
]

MAX_ITEMS_PER_REQUEST = 500
MAX_CATEGORIES = 100
MAX_TITLE_LENGTH = 1000
MAX_PROPERTIES_BYTES = 16_384
ITEM_FIELDS = frozenset({"item_id", "title", "categories", "properties", "created_at", "hidden"})


@dataclasses.dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    title: str | None = None
    categories: tuple[str, ...] = ()
    properties: Mapping[str, PropertyValue] = dataclasses.field(default_factory=dict)
    created_at: float | None = None
    hidden: bool = False

    def metadata(self) -> dict[str, Any]:
        """The fields a recommendation response carries next to item_id and score."""
        out: dict[str, Any] = {"categories": list(self.categories)}
        if self.title is not None:
            out["title"] = self.title
        if self.properties:
            out["properties"] = dict(self.properties)
        if self.created_at is not None:
            out["created_at"] = self.created_at
        return out

    def to_json(self) -> dict[str, Any]:
        return {"item_id": self.item_id, **self.metadata(), "hidden": self.hidden}


class ItemCatalogue(Protocol):
    """Item metadata, read on the request path (``get_many``) and scanned for filter indexes."""

    def upsert(self, items: Sequence[Item]) -> int:
        """Insert or replace items (all fields); returns how many were written."""
        ...

    def get(self, item_id: str) -> Item | None: ...

    def get_many(self, item_ids: Sequence[str]) -> dict[str, Item]:
        """The known items among ``item_ids`` (unknown ids are left out)."""
        ...

    def iterate(self) -> Iterator[Item]:
        """Every item, in no particular order (building filter indexes)."""
        ...

    def version(self) -> int:
        """A number that changes whenever any process changes the catalogue (cache key)."""
        ...

    def count(self) -> int: ...

    def close(self) -> None: ...


def _field(prefix: str, name: str) -> str:
    return f"{prefix}{name}" if prefix else name


def _check_item_id(value: Any, field: str) -> str:
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(field, "must be a string")
    text = str(value)
    if not 1 <= len(text) <= MAX_ID_LENGTH:
        raise ValidationError(field, f"must be 1-{MAX_ID_LENGTH} characters, got {len(text)}")
    return text


def _check_title(value: Any, field: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > MAX_TITLE_LENGTH:
        raise ValidationError(field, f"must be text of at most {MAX_TITLE_LENGTH} characters")
    return value


def _check_categories(value: Any, field: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list | tuple):
        raise ValidationError(field, "must be a list of text")
    if len(value) > MAX_CATEGORIES:
        raise ValidationError(field, f"must list at most {MAX_CATEGORIES} categories")
    for i, cat in enumerate(value):
        if not isinstance(cat, str) or not 1 <= len(cat) <= MAX_ID_LENGTH:
            raise ValidationError(f"{field}[{i}]", f"must be text of 1-{MAX_ID_LENGTH} characters")
    return tuple(dict.fromkeys(value))  # de-duplicated, order kept


def _check_properties(value: Any, field: str) -> dict[str, PropertyValue]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValidationError(field, "must be a flat JSON object")
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise ValidationError(f"{field}.{key}", "must be a string, number, boolean or null")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"{field}.{key}", "must be a finite number")
    if len(msgspec.json.encode(value)) > MAX_PROPERTIES_BYTES:
        raise ValidationError(field, f"must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
    return dict(value)


def _check_created_at(value: Any, field: str) -> float | None:
    """Epoch seconds or ISO-8601 text. Unlike event times, dates before 1970 (a film's release)
    and in the future (an announced product) are fine."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError(field, "must be epoch seconds or ISO-8601 text")
    try:
        seconds = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError as exc:
            raise ValidationError(
                field, f"{value!r} is neither epoch seconds nor ISO-8601"
            ) from exc
        seconds = (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()
    if not math.isfinite(seconds) or abs(seconds) > MILLISECONDS_THRESHOLD:
        raise ValidationError(
            field, f"{value!r} is not epoch seconds (milliseconds? divide by 1000)"
        )
    return seconds


def _check_hidden(value: Any, field: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ValidationError(field, "must be true or false")
    return value


def validate_item(raw: Any, item_id: str | None = None, prefix: str = "") -> Item:
    """Check one raw item object; ``item_id`` (from the URL) wins over the body's, which must then
    agree. ``prefix`` (e.g. ``items[3].``) makes field names precise inside a batch."""
    if not isinstance(raw, Mapping):
        raise ValidationError(prefix.rstrip(".") or "item", "must be a JSON object")
    unknown = sorted(set(raw) - ITEM_FIELDS)
    if unknown:
        raise ValidationError(_field(prefix, unknown[0]), "is not an item field")
    body_id = raw.get("item_id")
    if item_id is not None and body_id is not None and str(body_id) != item_id:
        raise ValidationError(_field(prefix, "item_id"), "differs from the item id in the URL")
    chosen = item_id if item_id is not None else body_id
    if chosen is None:
        raise ValidationError(_field(prefix, "item_id"), "is required")
    return Item(
        item_id=_check_item_id(chosen, _field(prefix, "item_id")),
        title=_check_title(raw.get("title"), _field(prefix, "title")),
        categories=_check_categories(raw.get("categories"), _field(prefix, "categories")),
        properties=_check_properties(raw.get("properties"), _field(prefix, "properties")),
        created_at=_check_created_at(raw.get("created_at"), _field(prefix, "created_at")),
        hidden=_check_hidden(raw.get("hidden"), _field(prefix, "hidden")),
    )


def validate_items(raws: Any, field: str = "items") -> list[Item]:
    """A batch: a list of at most MAX_ITEMS_PER_REQUEST item objects; all valid or none stored."""
    if not isinstance(raws, list):
        raise ValidationError(field, "must be a list of item objects")
    if not 1 <= len(raws) <= MAX_ITEMS_PER_REQUEST:
        raise ValidationError(field, f"must hold 1-{MAX_ITEMS_PER_REQUEST} items, got {len(raws)}")
    return [validate_item(raw, prefix=f"{field}[{i}].") for i, raw in enumerate(raws)]


def chunks(items: Iterable[Item], size: int) -> Iterator[list[Item]]:
    batch: list[Item] = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
