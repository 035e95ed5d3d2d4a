"""The trained model as the request path uses it: the registry's active version, and its item
indices mapped into the serving space (computed once per model, not per request)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

import numpy as np

from streamrec.recommenders.base import Recommender
from streamrec.serving.space import ItemSpace

__all__ = ["ActiveModelLike", "ModelSource", "ModelView", "ModelViews"]


class ActiveModelLike(Protocol):
    """What ``streamrec.models.registry.ActiveModel`` offers (the model registry's side)."""

    @property
    def version(self) -> str: ...

    @property
    def recipe(self) -> str: ...

    @property
    def model(self) -> Recommender: ...


class ModelSource(Protocol):
    def active(self, campaign: str) -> ActiveModelLike | None: ...


class ModelView:
    """One loaded model with ``to_space[model index] = space index``."""

    def __init__(self, active: ActiveModelLike, space: ItemSpace) -> None:
        self.active = active
        self.model = active.model
        vocab = self.model.item_vocab
        ids = vocab.ids() if vocab is not None else []
        self.to_space = space.add(ids).astype(np.int64)
        self.n_items = min(self.model.n_items, self.to_space.size)
        # the usual case (the model loaded into a fresh space): model index == space index, so
        # a request copies a slice instead of scattering 100,000 scores by index
        head = self.to_space[: self.n_items]
        self.contiguous = bool(np.array_equal(head, np.arange(self.n_items)))
        self._inverse = np.full(int(self.to_space.max(initial=-1)) + 1, -1, np.int64)
        self._inverse[self.to_space] = np.arange(self.to_space.size)
        self._mapped: tuple[np.ndarray, np.ndarray] | None = None

    def in_space(self, order: np.ndarray) -> np.ndarray:
        """Space indices of a per-model item order (the one-user path's rest order), mapped
        once per order array rather than per request."""
        mapped = self._mapped
        if mapped is None or mapped[0] is not order:
            mapped = self._mapped = (order, self.to_space[order])
        return mapped[1]

    @property
    def recipe(self) -> str:
        return self.active.recipe

    @property
    def version(self) -> str:
        return self.active.version

    def model_index(self, space_indices: np.ndarray) -> np.ndarray:
        """Model index of each space index (-1 where the model does not know the item)."""
        inverse = self._inverse
        ok = (space_indices >= 0) & (space_indices < inverse.size)
        out = np.full(space_indices.size, -1, np.int64)
        out[ok] = inverse[space_indices[ok]]
        return out


class ModelViews:
    """The campaign's active model as a ModelView, rebuilt only when the registry switches."""

    def __init__(
        self, source: Callable[[], ModelSource | None], campaign: str, space: ItemSpace
    ) -> None:
        self._source = source
        self._campaign = campaign
        self._space = space
        self._view: ModelView | None = None
        self._lock = threading.Lock()

    def current(self) -> ModelView | None:
        registry = self._source()
        active = registry.active(self._campaign) if registry is not None else None
        if active is None or active.model.n_items == 0:
            return None
        view = self._view
        if view is not None and _same(view, active):
            return view
        with self._lock:
            if self._view is None or not _same(self._view, active):
                self._view = ModelView(active, self._space)
            return self._view


def _same(view: ModelView, active: ActiveModelLike) -> bool:
    return view.model is active.model and view.version == active.version
