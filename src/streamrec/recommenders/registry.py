"""Recipes by name: the one place that knows which model classes exist."""

from __future__ import annotations

from typing import Any

from streamrec.errors import ConfigError
from streamrec.recommenders.als import ALS
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.ease import EASE
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.recommenders.popularity import Popularity, Trending
from streamrec.recommenders.recent import RecentDistinct
from streamrec.recommenders.recent_cooc import RecentCooc

__all__ = ["DEFAULT_RECIPE", "RECIPES", "create", "recipe_class"]

RECIPES: dict[str, type[Recommender]] = {
    cls.recipe: cls
    for cls in (Popularity, Trending, ItemKNN, ALS, EASE, Hybrid, RecentDistinct, RecentCooc)
}
DEFAULT_RECIPE = Hybrid.recipe


def recipe_class(name: str) -> type[Recommender]:
    try:
        return RECIPES[name]
    except KeyError:
        known = ", ".join(sorted(RECIPES))
        raise ConfigError("recipe", f"unknown recipe {name!r}; known: {known}") from None


def create(name: str, **params: Any) -> Recommender:
    """A new, untrained model of recipe ``name`` with ``params`` overriding its defaults."""
    return recipe_class(name)(**params)
