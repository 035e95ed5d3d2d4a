"""``streamrec segments``: the users most likely to interact with some items (Personalize's
Item-Affinity batch segments).

A user's affinity is the mean of the scores the served recommendations give those items for
them (:class:`streamrec.serving.batch.BatchScorer`: the model folded with their events and the
stream, as ``GET /v1/recommendations`` ranks), over the items they may still be recommended:
an item they bought or rated (``exclude_seen_event_types``) or a hidden item does not count,
and a user for whom none is left, or with no events to score, is in no segment. The users are
those of the lake (every user with an archived event).
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Callable, Sequence
from pathlib import Path

import msgspec
import numpy as np

from streamrec.errors import NotFoundError
from streamrec.serving.batch import BatchScorer
from streamrec.serving.service import RecommendationService

__all__ = ["item_affinity", "write_segment"]


def item_affinity(
    service: RecommendationService,
    item_ids: Sequence[str],
    users: Sequence[str],
    size: int,
    progress: Callable[[int], None] = lambda done: None,
) -> list[tuple[str, float]]:
    """The ``size`` users with the highest affinity to ``item_ids``, best first."""
    service._size()  # the active model's items enter the space first
    columns = service.space.indices(list(item_ids))
    unknown = [i for i, c in zip(item_ids, columns.tolist(), strict=True) if c < 0]
    if unknown and not service.catalogue.items(unknown):
        raise NotFoundError(f"items {unknown!r} are unknown: not in the catalogue or the model")
    columns = columns[columns >= 0]
    best: list[tuple[float, str]] = []
    for k, user in enumerate(BatchScorer(service).scores(users), 1):
        if user.personal is not None and columns.size:
            usable = columns[(columns < user.blocked.size) & ~user.blocked[columns]]
            values = user.personal.scores[usable]
            values = values[np.isfinite(values)]
            if values.size:
                entry = (float(values.mean()), user.user_id)
                if len(best) < size:
                    heapq.heappush(best, entry)
                else:
                    heapq.heappushpop(best, entry)
        if k % 1000 == 0:
            progress(k)
    progress(len(users))
    return [(u, s) for s, u in sorted(best, key=lambda e: (-e[0], e[1]))]


def write_segment(path: Path, segment: Sequence[tuple[str, float]]) -> None:
    """One ``{"user_id", "score"}`` line per user, best first; replaced atomically (the
    directory must exist: it is not created)."""
    partial = path.with_name(f".{path.name}.partial")
    encode = msgspec.json.Encoder().encode
    with partial.open("wb") as fh:
        fh.write(b"".join(encode({"user_id": u, "score": s}) + b"\n" for u, s in segment))
        fh.flush()
        os.fsync(fh.fileno())
    partial.replace(path)
