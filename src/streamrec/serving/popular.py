"""Popular items from the stream's counts (the fallback before any model is trained, and for
users with no events). The counting happens in the ``realtime`` consumer (:mod:`stream_state`);
this is the small read API the dashboard and the service share."""

from __future__ import annotations

import numpy as np

from streamrec.recommenders.base import top_k
from streamrec.serving.stream_state import StreamState


class PopularItems:
    def __init__(self, state: StreamState) -> None:
        self._state = state

    def top(self, n: int, exclude: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        """The ``n`` most popular items (time-decayed, event-type-weighted), best first."""
        space = self._state.space
        size = len(space)
        scores = self._state.popularity(size).copy()
        if exclude:
            drop = space.indices(list(exclude))
            scores[drop[drop >= 0]] = 0.0
        scores[scores <= 0] = -np.inf
        idx, vals = top_k(scores[None, :], n)
        keep = idx[0] >= 0
        return list(zip(space.ids(idx[0][keep]), vals[0][keep].tolist(), strict=True))
