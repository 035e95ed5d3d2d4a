"""External string ids <-> dense int indices, mapped once at the edge (lenskit's Vocabulary)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = ["Vocabulary"]


class Vocabulary:
    """An append-only, ordered set of ids; index ``i`` is the ``i``-th id added.

    Models only ever see the indices; a vocabulary can grow (new items from the stream) without
    renumbering what a trained model already knows.
    """

    __slots__ = ("_ids", "_index")

    def __init__(self, ids: Iterable[str] = ()) -> None:
        self._ids: list[str] = []
        self._index: dict[str, int] = {}
        self.add(ids)

    @classmethod
    def encode(cls, values: Sequence[str] | np.ndarray) -> tuple[Vocabulary, np.ndarray]:
        """Vocabulary of ``values`` in first-seen order, and the int32 code of every value."""
        arr = np.asarray(values, dtype=object)
        uniq, first, inverse = np.unique(arr, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty_like(order)
        rank[order] = np.arange(order.size)
        return cls(str(u) for u in uniq[order]), rank[inverse].astype(np.int32)

    def add(self, ids: Iterable[str]) -> np.ndarray:
        """Add ids not yet known; returns the index of every id given (int32)."""
        index, known = self._index, self._ids
        out: list[int] = []
        for item in ids:
            code = index.get(item)
            if code is None:
                code = len(known)
                index[item] = code
                known.append(item)
            out.append(code)
        return np.asarray(out, dtype=np.int32)

    def index(self, item: str) -> int:
        """Index of one id, -1 when unknown."""
        return self._index.get(item, -1)

    def indices(self, ids: Iterable[str]) -> np.ndarray:
        """Index of every id (int32), -1 for unknown ids."""
        found = map(self._index.get, ids, itertools.repeat(-1))  # twice a generator's speed
        return np.fromiter(found, dtype=np.int32)

    def id(self, idx: int) -> str:
        return self._ids[idx]

    def ids(self, indices: Iterable[int] | np.ndarray | None = None) -> list[str]:
        """Ids for ``indices`` (all ids when None); negative indices (padding) are skipped."""
        if indices is None:
            return list(self._ids)
        known = self._ids
        return [known[int(i)] for i in np.asarray(indices).ravel() if i >= 0]

    def to_array(self) -> np.ndarray:
        """Unicode array, storable with ``np.save`` without pickle."""
        return np.asarray(self._ids, dtype=np.str_)

    def __len__(self) -> int:
        return len(self._ids)

    def __contains__(self, item: object) -> bool:
        return item in self._index

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Vocabulary) and self._ids == other._ids

    def __hash__(self) -> int:
        return hash(tuple(self._ids))

    def __repr__(self) -> str:
        return f"Vocabulary({len(self)} ids)"
