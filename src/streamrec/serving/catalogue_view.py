"""The catalogue as the request path sees it: a filter index and hidden mask rebuilt only when
the catalogue's version changes (checked at most every ``check_s``), and item metadata read by
primary key for the few items of a response, with a small per-version cache."""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from streamrec.catalogue.base import Item, ItemCatalogue
from streamrec.filters.index import ItemIndex
from streamrec.serving.space import ItemSpace, pad

__all__ = ["CatalogueView"]

METADATA_CACHE_ITEMS = 50_000


class CatalogueView:
    def __init__(self, catalogue: ItemCatalogue, space: ItemSpace, check_s: float = 0.5) -> None:
        self.catalogue = catalogue
        self._space = space
        self._check_s = check_s
        self._index = ItemIndex(0, -1)
        self._checked_at = -1e18
        self._build_lock = threading.Lock()
        self._metadata: dict[str, Item | None] = {}

    def index(self) -> ItemIndex:
        """The current index; one caller rebuilds it when stale while the others keep using the
        previous one (a rebuild of 100,000 items takes a moment; requests must not queue on it)."""
        now = time.monotonic()
        if now - self._checked_at < self._check_s:
            return self._index
        if self._build_lock.acquire(blocking=self._index.version < 0):
            try:
                self._refresh(now)
            finally:
                self._build_lock.release()
        return self._index

    def _refresh(self, now: float) -> None:
        self._checked_at = now
        version = self.catalogue.version()
        if version == self._index.version:
            return
        items = list(self.catalogue.iterate())
        indices = self._space.add(i.item_id for i in items).astype(np.int64)
        self._index = ItemIndex.build(items, indices, len(self._space), version)
        self._metadata = {}

    def invalidate(self) -> None:
        """Make the next request look at the catalogue again (after a write in this process)."""
        self._checked_at = -1e18

    def hidden(self, size: int) -> np.ndarray:
        """A fresh mask (callers add their own exclusions to it)."""
        return pad(self.index().hidden, size, False).copy()

    def items(self, item_ids: Sequence[str]) -> dict[str, Item]:
        self.index()  # drops the metadata cache when the catalogue changed
        cache = self._metadata
        missing = [i for i in item_ids if i not in cache]
        if missing:
            found = self.catalogue.get_many(missing)
            if len(cache) > METADATA_CACHE_ITEMS:
                cache.clear()
            for item_id in missing:
                cache[item_id] = found.get(item_id)
        return {i: item for i in item_ids if (item := cache.get(i)) is not None}

    def decorate(self, scored: Sequence[tuple[str, float | None]]) -> list[dict[str, Any]]:
        """``[{"item_id", "score", ...metadata}]`` for a response."""
        items = self.items([i for i, _ in scored])
        out = []
        for item_id, score in scored:
            entry: dict[str, Any] = {"item_id": item_id, "score": score}
            item = items.get(item_id)
            if item is not None:
                entry.update(item.metadata())
            out.append(entry)
        return out
