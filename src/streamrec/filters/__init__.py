"""Recommendation filters: a small expression language modelled on Amazon Personalize's.

Examples::

    EXCLUDE ItemID WHERE Interactions.event_type IN ("purchase")
    INCLUDE ItemID WHERE Items.categories IN ($GENRES) AND Items.price < 50
    EXCLUDE ItemID WHERE Items.brand = "acme" | INCLUDE ItemID WHERE Items.in_stock = true

The grammar is in :mod:`streamrec.filters.parser`, the meaning of each construct in
:mod:`streamrec.filters.evaluate`. ``compile_filter`` parses (cached) and binds parameters.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache

from streamrec.filters.evaluate import (
    FilterContext,
    ParamValue,
    UserInteractions,
    allowed_items,
    bind,
    uses_interactions,
)
from streamrec.filters.index import ItemIndex
from streamrec.filters.parser import Filter, parse_filter

__all__ = [
    "Filter",
    "FilterContext",
    "ItemIndex",
    "ParamValue",
    "UserInteractions",
    "allowed_items",
    "bind",
    "compile_filter",
    "parse_filter",
    "uses_interactions",
]


@lru_cache(maxsize=256)
def _parse_cached(text: str) -> Filter:
    return parse_filter(text)


def compile_filter(text: str, params: Mapping[str, ParamValue] | None = None) -> Filter:
    """Parse ``text`` (parsed once per distinct text) and bind ``params``."""
    return bind(_parse_cached(text), params or {})
