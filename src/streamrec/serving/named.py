"""The shop's use cases as named recommenders (Amazon Personalize's ECOMMERCE and
VIDEO_ON_DEMAND recommenders), read from the stream's counts (:mod:`streamrec.serving.merchandising`):

- bought together: items purchased in the same order or session as an item;
- also viewed: items viewed by the customers who viewed an item (within a day of it);
- popular in a window: best sellers (``purchase``) or most viewed (``view``) over 1 hour to 90 days.

Each answers like ``/v1/popular`` (each item's ``reason``: ``similar_to`` the item asked about,
or ``popular``), leaves out hidden items and honours a filter (without a user,
so conditions on ``Interactions`` match nothing).
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from streamrec.errors import ValidationError
from streamrec.filters import (
    FilterContext,
    ParamValue,
    UserInteractions,
    allowed_items,
    compile_filter,
)
from streamrec.serving.reasons import POPULAR, Reason
from streamrec.serving.scoring import top_items
from streamrec.serving.service import Recommendations, RecommendationService
from streamrec.serving.session_pairs import SessionPairs
from streamrec.serving.windowed_counts import MAX_WINDOW_S, MIN_WINDOW_S

__all__ = ["NamedRecommenders", "parse_window"]

DEFAULT_WINDOW = "7d"
WINDOW_PATTERN = r"^[1-9][0-9]{0,3}[hd]$"
_WINDOW = re.compile(WINDOW_PATTERN)
_UNIT_S = {"h": 3_600.0, "d": 86_400.0}


def parse_window(text: str) -> float:
    """``"24h"`` or ``"7d"`` as seconds, from 1 hour to 90 days; else a ValidationError."""
    if not _WINDOW.match(text):
        raise ValidationError("window", "must be hours or days like 24h or 7d, from 1h to 90d")
    seconds = int(text[:-1]) * _UNIT_S[text[-1]]
    if not MIN_WINDOW_S <= seconds <= MAX_WINDOW_S:
        raise ValidationError("window", f"must be from 1h to 90d, got {text}")
    return seconds


class NamedRecommenders:
    def __init__(self, service: RecommendationService) -> None:
        self._service = service

    def bought_together(
        self, item_id: str, n: int, filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Recommendations:  # fmt: skip
        """Items purchased in the same order or session as ``item_id``, most often first."""
        pairs = self._service.stream.merchandising.bought_together
        return self._partners("bought-together", pairs, item_id, n, filter_text, filter_params)

    def also_viewed(
        self, item_id: str, n: int, filter_text: str | None = None,
        filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Recommendations:  # fmt: skip
        """Items the customers who viewed ``item_id`` also viewed, most often first."""
        pairs = self._service.stream.merchandising.also_viewed
        return self._partners("also-viewed", pairs, item_id, n, filter_text, filter_params)

    def popular(
        self, n: int, event_type: str | None = None, window: str | None = None,
        filter_text: str | None = None, filter_params: Mapping[str, ParamValue] | None = None,
    ) -> Recommendations:  # fmt: skip
        """Without ``event_type`` and ``window``: the decayed popularity of ``/v1/popular``.
        Otherwise events of ``event_type`` (all types by their weights when None) per item in
        the last ``window`` (default 7d)."""
        service = self._service
        size = service._size()
        blocked = self._blocked(size, filter_text, filter_params)
        if event_type is None and window is None:
            scores = service.stream.popularity(size)
        else:
            scores = self._windowed(event_type, window, size)
        items = top_items(scores, blocked, n, service.space)
        return Recommendations("popularity", None, items, reasons=[POPULAR] * len(items))

    def _windowed(self, event_type: str | None, window: str | None, size: int) -> np.ndarray:
        service = self._service
        windowed = service.stream.merchandising.windowed
        if event_type is not None and event_type not in windowed.event_types:
            known = ", ".join(windowed.event_types)
            raise ValidationError("event_type", f"must be a configured event type: {known}")
        seconds = parse_window(window or DEFAULT_WINDOW)
        weights = service.settings.event_type_weights
        return windowed.scores(event_type, seconds, size, weights)

    def _partners(
        self, recipe: str, pairs: SessionPairs, item_id: str, n: int,
        filter_text: str | None, filter_params: Mapping[str, ParamValue] | None,
    ) -> Recommendations:  # fmt: skip
        service = self._service
        idx = service.known_index(item_id)  # -1: known, in no count yet; else NotFoundError
        size = service._size()
        blocked = self._blocked(size, filter_text, filter_params)
        if idx < 0:
            return Recommendations(recipe, None, [])
        blocked[idx] = True
        items = top_items(pairs.scores(idx, size), blocked, n, service.space)
        return Recommendations(
            recipe, None, items, reasons=[Reason("similar_to", item_id)] * len(items)
        )

    def _blocked(
        self, size: int, filter_text: str | None, filter_params: Mapping[str, ParamValue] | None
    ) -> np.ndarray:
        service = self._service
        blocked = service.catalogue.hidden(size)
        if filter_text:
            filt = compile_filter(filter_text, filter_params)
            ctx = FilterContext(
                service.catalogue.index(), size, service.space.indices, UserInteractions.empty()
            )
            blocked |= ~allowed_items(filt, ctx)
        return blocked
