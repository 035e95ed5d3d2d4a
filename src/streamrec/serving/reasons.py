"""Why each recommended item is there, named by the user's own events.

The model says which of its terms won for each returned item (``ModelReasons``: a history item,
the user's own item, or the prior); the stream's co-occurrence term, added by the service, wins
where it is larger than the model's winning term (always for items the model has never seen).
A history item is then turned into the user's own event on it: of the user's events on that
item, the one whose event type weighs most (``event_type_weights``), the newest of equals, so a
purchase explains before a view of the same item.

Reasons (the ``reason`` object of a returned item; ``type`` is always there):

- ``because_you``: ``item_id`` and ``event_type`` of the user's event that contributed most;
- ``repeat``: the item is the user's own (``item_id``, ``event_type`` of their event on it);
- ``similar_to``: on the similar-items, bought-together and also-viewed routes, ``item_id`` is
  the item asked about;
- ``popular`` / ``trending``: a prior, not the user's history, ranked the item;
- ``exploration``: one of ``exploration_weight``'s slots;
- ``promoted``: one of a promotion's slots (``promotion`` names it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from streamrec.recommenders.reasons import EVENT, REPEAT, TRENDING, ModelReasons
from streamrec.stores.base import UserEvent

__all__ = ["Reason", "StreamTerms", "own_events", "personal_reasons"]


class Reason(NamedTuple):
    """One item's reason (a tuple: a request builds one per item, a frozen dataclass cost 4x)."""

    type: str
    item_id: str | None = None
    event_type: str | None = None
    promotion: str | None = None

    def json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type}
        if self.item_id is not None:
            out["item_id"] = self.item_id
        if self.event_type is not None:
            out["event_type"] = self.event_type
        if self.promotion is not None:
            out["promotion"] = self.promotion
        return out


POPULAR = Reason("popular")


@dataclass(frozen=True)
class StreamTerms:
    """The stream's co-occurrence term of each returned item and the recent item (space index,
    -1: none) whose row gave it the most."""

    terms: list[float]  # -inf: the stream does not reach the item
    sources: list[int]

    @classmethod
    def none(cls, size: int) -> StreamTerms:
        return cls([-float("inf")] * size, [-1] * size)


def own_events(
    events: Sequence[UserEvent], item_ids: set[str], weights: Mapping[str, float]
) -> dict[str, UserEvent]:
    """For each of ``item_ids`` the user has an event on: the event of the heaviest type, the
    newest of equals (``events`` oldest first)."""
    best: dict[str, UserEvent] = {}
    for event in events:
        if event.item_id in item_ids:
            held = best.get(event.item_id)
            if held is None or weights.get(event.event_type, 1.0) >= weights.get(
                held.event_type, 1.0
            ):
                best[event.item_id] = event
    return best


def personal_reasons(
    model: ModelReasons,
    stream: StreamTerms,
    space_of: Callable[[np.ndarray], list[str]],
    events: tuple[Sequence[UserEvent], np.ndarray],
    weights: Mapping[str, float],
) -> list[Reason]:
    """One reason per returned item, from ``model`` and ``stream`` aligned with them (the
    model's ``sources`` already mapped to space indices; ``space_of`` names space indices;
    ``events``: the user's events and the space index of each one's item)."""
    kinds, sources = list(model.kinds), list(model.sources)
    for k, (term, source) in enumerate(zip(stream.terms, stream.sources, strict=True)):
        if term > model.strengths[k] and source >= 0:
            kinds[k], sources[k] = EVENT, source
    wanted = np.array([s for s in sources if s >= 0], np.int64)
    names = dict(zip(wanted.tolist(), space_of(wanted), strict=True))
    user_events, event_items = events
    # a few wanted items against the user's events: one comparison block (np.isin sorts both)
    on_wanted = np.flatnonzero((event_items[:, None] == wanted[None, :]).any(axis=1)).tolist()
    own = own_events([user_events[k] for k in on_wanted], set(names.values()), weights)
    out = []
    for kind, source in zip(kinds, sources, strict=True):
        event = own.get(names[source]) if source >= 0 else None
        if event is not None and kind in (EVENT, REPEAT):
            kind_name = "because_you" if kind == EVENT else "repeat"
            out.append(Reason(kind_name, event.item_id, event.event_type))
        else:
            out.append(Reason("trending") if kind == TRENDING else POPULAR)
    return out
