"""The catalogue as arrays over the serving item space, so that filters cost a few numpy ops.

Built once per catalogue version (off the hot path of every later request): categories and
equality lookups become inverted lists of item indices, numeric fields become float arrays with
NaN for "missing". Items the catalogue does not know have no categories and no properties.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from streamrec.catalogue.base import Item

__all__ = ["BUILTIN_FIELDS", "ItemIndex", "lookup_keys"]

BUILTIN_FIELDS = ("item_id", "title", "categories", "created_at")
Key = tuple[str, Any]


def lookup_keys(value: Any) -> list[Key]:
    """Equality keys of a value: 5, 5.0 and "5" meet on ("n", 5.0); booleans stay booleans."""
    if isinstance(value, bool):
        return [("b", value)]
    if isinstance(value, int | float):
        return [("n", float(value))]
    if value is None:
        return []
    text = str(value)
    keys: list[Key] = [("s", text)]
    try:
        number = float(text)
    except ValueError:
        return keys
    if math.isfinite(number):
        keys.append(("n", number))
    return keys


def _as_number(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value)
    try:
        number = float(str(value))  # "50" compares as 50: JSON clients often send text
    except ValueError:
        return None
    return number if math.isfinite(number) else None


class ItemIndex:
    """Per-field lookups over item indices ``0 .. size-1`` of the serving space."""

    def __init__(self, size: int, version: int = 0) -> None:
        self.size = size
        self.version = version
        self.hidden = np.zeros(size, dtype=bool)
        self.categories: dict[str, np.ndarray] = {}
        self.lookups: dict[str, dict[Key, np.ndarray]] = {}
        self.numbers: dict[str, np.ndarray] = {}
        self._names: dict[str, str] = {}

    @classmethod
    def build(
        cls, items: Sequence[Item], indices: np.ndarray, size: int, version: int = 0
    ) -> ItemIndex:
        """``indices[k]`` is the space index of ``items[k]``; ``size`` bounds every index."""
        index = cls(size, version)
        categories: dict[str, list[int]] = defaultdict(list)
        lookups: dict[str, dict[Key, list[int]]] = defaultdict(lambda: defaultdict(list))
        numbers: dict[str, list[tuple[int, float]]] = defaultdict(list)
        for item, idx in zip(items, indices.tolist(), strict=True):
            if item.hidden:
                index.hidden[idx] = True
            for cat in item.categories:
                categories[cat].append(idx)
            for name, value in _fields(item):
                for key in lookup_keys(value):
                    lookups[name][key].append(idx)
                number = _as_number(value)
                if number is not None:
                    numbers[name].append((idx, number))
        index.categories = {c: np.asarray(v, np.int64) for c, v in categories.items()}
        index.lookups = {
            f: {k: np.asarray(v, np.int64) for k, v in keys.items()} for f, keys in lookups.items()
        }
        index.numbers = {f: _dense(pairs, size) for f, pairs in numbers.items()}
        index._names = {n.lower(): n for n in (*index.lookups, *index.numbers)}
        return index

    def resolve(self, name: str) -> str:
        """A field name as stored: exact match first, then case-insensitive (GENRES ~ genres)."""
        if name in self.lookups or name in self.numbers or name in BUILTIN_FIELDS:
            return name
        lowered = name.lower()
        if lowered in BUILTIN_FIELDS:
            return lowered
        return self._names.get(lowered, name)

    def mask_of(self, lists: Iterable[np.ndarray], size: int) -> np.ndarray:
        mask = np.zeros(size, dtype=bool)
        for idx in lists:
            mask[idx[idx < size]] = True
        return mask

    def number_column(self, name: str, size: int) -> np.ndarray:
        column = self.numbers.get(name)
        out = np.full(size, np.nan)
        if column is not None:
            n = min(size, column.size)
            out[:n] = column[:n]
        return out


def _fields(item: Item) -> Iterable[tuple[str, Any]]:
    if item.title is not None:
        yield "title", item.title
    if item.created_at is not None:
        yield "created_at", item.created_at
    yield from item.properties.items()


def _dense(pairs: list[tuple[int, float]], size: int) -> np.ndarray:
    out = np.full(size, np.nan)
    if pairs:
        idx, vals = zip(*pairs, strict=True)
        out[np.asarray(idx, np.int64)] = np.asarray(vals, np.float64)
    return out
