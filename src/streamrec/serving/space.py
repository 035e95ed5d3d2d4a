"""The serving item space: one append-only id -> index mapping shared by every serving array.

Model scores, stream co-occurrence, trending counts, the hidden mask and filter indexes all live
in this one index space, so combining them is array arithmetic. It only grows: a model's items,
items first seen on the stream and catalogue items are appended, never renumbered, so arrays built
earlier stay valid for the indices they cover (later items are simply past their end).
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence

import numpy as np

from streamrec.recommenders.vocab import Vocabulary
from streamrec.serving.packing import packed

__all__ = ["ItemSpace", "pad"]


class ItemSpace:
    """A thread-safe Vocabulary: writers append under a lock; readers take a size snapshot first
    and only use indices below it, so a concurrent append never shows a half-added id."""

    def __init__(self) -> None:
        self._vocab = Vocabulary()
        self._lock = threading.Lock()
        self._size = 0
        self._encoded: list[bytes] = []  # the first ids UTF-8 encoded, for packed_ids

    def add(self, ids: Iterable[str]) -> np.ndarray:
        with self._lock:
            out = self._vocab.add(ids)
            self._size = len(self._vocab)
        return out

    def __len__(self) -> int:
        return self._size

    def index(self, item_id: str) -> int:
        idx = self._vocab.index(item_id)
        return idx if idx < self._size else -1

    def indices(self, ids: Sequence[str]) -> np.ndarray:
        out = self._vocab.indices(ids).astype(np.int64)
        out[out >= self._size] = -1
        return out

    def id(self, idx: int) -> str:
        return self._vocab.id(idx)

    def ids(self, indices: Iterable[int] | np.ndarray) -> list[str]:
        return self._vocab.ids(indices)

    def packed_ids(self) -> tuple[np.ndarray, np.ndarray]:
        """Every id, as :func:`~streamrec.serving.packing.pack_strings` packs them. The space
        only grows, so only the ids added since the last call are encoded (a snapshot packs
        the whole space every 30 s: 25-40 ms for 100,000 ids when encoded afresh)."""
        size = self._size
        encoded = self._encoded
        if len(encoded) < size:
            encoded.extend(map(str.encode, self._vocab.ids(range(len(encoded), size))))
        return packed(encoded[:size])


def pad(array: np.ndarray, size: int, fill: float | bool = 0.0) -> np.ndarray:
    """``array`` cut or extended (with ``fill``) to length ``size``."""
    if array.size >= size:
        return array[:size]
    out = np.full(size, fill, dtype=array.dtype)
    out[: array.size] = array
    return out
