"""The item catalogue (titles, categories, properties, hidden flags), chosen by URL.

Only the embedded SQLite backend exists; ``open_catalogue`` is the one place that picks it.
"""

from __future__ import annotations

from streamrec.catalogue.base import (
    MAX_ITEMS_PER_REQUEST,
    Item,
    ItemCatalogue,
    validate_item,
    validate_items,
)
from streamrec.config import Settings

__all__ = [
    "MAX_ITEMS_PER_REQUEST",
    "Item",
    "ItemCatalogue",
    "open_catalogue",
    "validate_item",
    "validate_items",
]


def open_catalogue(settings: Settings) -> ItemCatalogue:
    from streamrec.catalogue.sqlite import SqliteCatalogue

    return SqliteCatalogue(settings.data_dir / "catalogue.db")
