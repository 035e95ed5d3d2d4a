"""Recommendation models ("recipes"), their common interface, save/load and the registry."""

from streamrec.recommenders.als import ALS
from streamrec.recommenders.base import Recommender, top_k
from streamrec.recommenders.data import (
    EVENT_TYPES,
    EventWeights,
    HistoryBatch,
    Interactions,
    UserHistory,
)
from streamrec.recommenders.ease import EASE
from streamrec.recommenders.hybrid import Hybrid
from streamrec.recommenders.itemknn import ItemKNN
from streamrec.recommenders.persistence import load_model, read_metadata, save_model
from streamrec.recommenders.popularity import Popularity, Trending, TrendingCounter
from streamrec.recommenders.registry import DEFAULT_RECIPE, RECIPES, create, recipe_class
from streamrec.recommenders.vocab import Vocabulary

__all__ = [
    "ALS",
    "DEFAULT_RECIPE",
    "EASE",
    "EVENT_TYPES",
    "RECIPES",
    "EventWeights",
    "HistoryBatch",
    "Hybrid",
    "Interactions",
    "ItemKNN",
    "Popularity",
    "Recommender",
    "Trending",
    "TrendingCounter",
    "UserHistory",
    "Vocabulary",
    "create",
    "load_model",
    "read_metadata",
    "recipe_class",
    "save_model",
    "top_k",
]
