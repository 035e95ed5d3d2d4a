"""Recommendation models ("recipes"), their common interface, save/load and the registry.

Names are imported on first use (PEP 562), so ``import streamrec.recommenders.base`` (what the
API process needs) does not import every recipe and the libraries behind them.
"""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "ALS": "als",
    "EASE": "ease",
    "Hybrid": "hybrid",
    "ItemKNN": "itemknn",
    "Popularity": "popularity",
    "Trending": "popularity",
    "TrendingCounter": "popularity",
    "Recommender": "base",
    "top_k": "base",
    "EVENT_TYPES": "data",
    "EventWeights": "data",
    "HistoryBatch": "data",
    "Interactions": "data",
    "UserHistory": "data",
    "load_model": "persistence",
    "read_metadata": "persistence",
    "save_model": "persistence",
    "DEFAULT_RECIPE": "registry",
    "RECIPES": "registry",
    "create": "registry",
    "recipe_class": "registry",
    "Vocabulary": "vocab",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)
