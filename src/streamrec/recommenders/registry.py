"""Recipes by name: the one place that knows which model classes exist.

Each recipe's module is imported when the recipe is first asked for, so a process that serves
one model (or none) does not import every recipe and its libraries (implicit, for ALS).
"""

from __future__ import annotations

import importlib
from typing import Any

from streamrec.errors import ConfigError
from streamrec.recommenders.base import Recommender

__all__ = ["DEFAULT_RECIPE", "RECIPES", "create", "recipe_class"]

# recipe name -> "module:Class"
RECIPES: dict[str, str] = {
    "popularity": "streamrec.recommenders.popularity:Popularity",
    "trending": "streamrec.recommenders.popularity:Trending",
    "item-knn": "streamrec.recommenders.itemknn:ItemKNN",
    "als": "streamrec.recommenders.als:ALS",
    "ease": "streamrec.recommenders.ease:EASE",
    "hybrid": "streamrec.recommenders.hybrid:Hybrid",
    "recent-distinct": "streamrec.recommenders.recent:RecentDistinct",
    "recent-cooc": "streamrec.recommenders.recent_cooc:RecentCooc",
    "sequential": "streamrec.recommenders.sequential:Sequential",
}
DEFAULT_RECIPE = "hybrid"


def recipe_class(name: str) -> type[Recommender]:
    try:
        module, _, cls_name = RECIPES[name].partition(":")
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise ConfigError("recipe", f"unknown recipe {name!r}; known: {known}") from None
    cls = getattr(importlib.import_module(module), cls_name)
    if not (isinstance(cls, type) and issubclass(cls, Recommender) and cls.recipe == name):
        raise ConfigError("recipe", f"{RECIPES[name]} is not the {name!r} recipe")
    return cls


def create(name: str, **params: Any) -> Recommender:
    """A new, untrained model of recipe ``name`` with ``params`` overriding its defaults."""
    return recipe_class(name)(**params)
