"""The stream's counts behind the shop's named recommenders: per-event-type windowed counts (best
sellers, most viewed), items bought together, and items viewed by the same customers.

Kept by :class:`~streamrec.serving.stream_state.StreamState` next to popularity and trending: the
same events feed it (every API process follows the stream), and it travels in the same snapshot
under keys prefixed ``m_`` (a snapshot written before it existed restores with these counts
empty, and they fill from the events replayed after it). Without a snapshot it is rebuilt from
the events the stream retains, as co-occurrence is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set

import numpy as np

from streamrec.events import Event
from streamrec.serving.packing import pack_strings, unpack_strings
from streamrec.serving.session_pairs import SessionPairs
from streamrec.serving.windowed_counts import WindowedCounts

__all__ = ["ALSO_VIEWED_GAP_S", "BOUGHT_TOGETHER_GAP_S", "Merchandising"]

BOUGHT_TOGETHER_GAP_S = 3_600.0  # purchases of one order or session lie within an hour
ALSO_VIEWED_GAP_S = 86_400.0  # one customer's views within a day
ALSO_VIEWED_RECENT = 10  # a view pairs with the customer's last 10 viewed items
PREFIX = "m_"


class Merchandising:
    def __init__(
        self,
        counted_types: Iterable[str],
        purchase_types: Sequence[str] = ("purchase",),
        view_types: Sequence[str] = ("view",),
    ) -> None:
        self.windowed = WindowedCounts(counted_types)
        self.bought_together = SessionPairs(purchase_types, BOUGHT_TOGETHER_GAP_S, by_session=True)
        self.also_viewed = SessionPairs(
            view_types, ALSO_VIEWED_GAP_S, by_session=False, max_recent=ALSO_VIEWED_RECENT
        )

    def update(self, events: Sequence[Event], items: np.ndarray) -> None:
        """Count events already mapped to the space (``items``: their indices), stream order."""
        if not events:
            return
        times = np.array([e.timestamp for e in events], np.float64)
        self.windowed.update([e.event_type for e in events], items, times)
        listed = items.tolist()
        self.bought_together.update(events, listed)
        self.also_viewed.update(events, listed)

    def forget_users(self, digests: Set[str]) -> int:
        """An erasure: forget the users' recent items that would pair with their next events."""
        return self.bought_together.forget_users(digests) + self.also_viewed.forget_users(digests)

    def arrays(self) -> dict[str, np.ndarray]:
        blob, lengths = pack_strings(list(self.windowed.event_types))
        out = {"types_blob": blob, "types_len": lengths}
        out.update({f"w_{k}": v for k, v in self.windowed.arrays().items()})
        out.update({f"bt_{k}": v for k, v in self.bought_together.arrays().items()})
        out.update({f"av_{k}": v for k, v in self.also_viewed.arrays().items()})
        return {PREFIX + k: v for k, v in out.items()}

    def restore(self, arrays: Mapping[str, np.ndarray], index: np.ndarray) -> None:
        """A snapshot's counts (``index`` maps its item numbers into this space); a snapshot
        without them leaves them empty."""
        mine = {k[len(PREFIX) :]: v for k, v in arrays.items() if k.startswith(PREFIX)}
        types = unpack_strings(mine["types_blob"], mine["types_len"]) if mine else []
        self.windowed.restore(_part(mine, "w_"), types, index)
        self.bought_together.restore(_part(mine, "bt_"), index)
        self.also_viewed.restore(_part(mine, "av_"), index)


def _part(arrays: Mapping[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    return {k[len(prefix) :]: v for k, v in arrays.items() if k.startswith(prefix)}
