"""Items that share a basket: pairs of items with events of given types by the same group (a
session, else a user) close in time. Bought together: purchases of one order or session; also
viewed: the items one customer viewed within a day.

Unlike the stream state's co-occurrence (consecutive events of any type), every item of a group's
recent events of the chosen types pairs with the new one, so an order of five items gives ten
pairs. Memory is bounded: an item's row of partners grows to twice ``max_neighbours`` and is
then cut back to its ``max_neighbours`` strongest (so a new partner has that many pairs' time to
gain ground before the next cut: lossy counting), a group remembers its last ``max_recent`` distinct items, and at most
``max_groups`` groups are remembered (least recently active forgotten first).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence, Set

import numpy as np

from streamrec.consumers.erased import user_digest
from streamrec.events import Event
from streamrec.serving.packing import flatten_pairs, flatten_rows, pack_strings, unpack_strings

__all__ = ["SessionPairs"]

MAX_NEIGHBOURS = 50
MAX_RECENT = 20
MAX_GROUPS = 200_000
_OWNER = "\x1f"  # a session's group is "s:<session><_OWNER><user>", so an erasure finds it


def _owner(group: str) -> str:
    if group.startswith("s:"):
        return group.rpartition(_OWNER)[2]
    return group[2:]


class SessionPairs:
    def __init__(
        self,
        event_types: Sequence[str],
        gap_s: float,
        by_session: bool,
        max_neighbours: int = MAX_NEIGHBOURS,
        max_recent: int = MAX_RECENT,
        max_groups: int = MAX_GROUPS,
    ) -> None:
        self.event_types = frozenset(event_types)
        self.gap_s = gap_s
        self.by_session = by_session  # group by session_id where an event has one
        self._max_neighbours = max_neighbours
        self._max_recent = max_recent
        self._max_groups = max_groups
        self._rows: dict[int, dict[int, float]] = {}
        self._recent: OrderedDict[str, list[tuple[int, float]]] = OrderedDict()
        self._lock = threading.Lock()

    def update(self, events: Sequence[Event], items: Sequence[int]) -> None:
        """Pair each event of the chosen types with its group's recent items (stream order)."""
        types = self.event_types
        with self._lock:
            for event, item in zip(events, items, strict=True):
                if event.event_type in types:
                    self._add(self._group(event), item, event.timestamp)

    def _group(self, event: Event) -> str:
        if self.by_session and event.session_id:
            return f"s:{event.session_id}{_OWNER}{event.user_id}"
        return "u:" + event.user_id

    def forget_users(self, digests: Set[str]) -> int:
        """Forget the recent items of the users whose id has one of these digests (an erasure;
        a session's group names its user too); returns how many groups went. The pairs stay:
        they count items, not people."""
        with self._lock:
            groups = list(self._recent)
        gone = [g for g in groups if user_digest(_owner(g)) in digests]
        with self._lock:
            for group in gone:
                self._recent.pop(group, None)
        return len(gone)

    def _add(self, group: str, item: int, timestamp: float) -> None:
        recent = self._recent.pop(group, [])
        recent = [r for r in recent if abs(timestamp - r[1]) <= self.gap_s and r[0] != item]
        for other, _ in recent:
            self._bump(item, other)
            self._bump(other, item)
        recent.append((item, timestamp))
        self._recent[group] = recent[-self._max_recent :]
        if len(self._recent) > self._max_groups:
            self._recent.popitem(last=False)

    def _bump(self, a: int, b: int) -> None:
        row = self._rows.get(a)
        if row is None:
            row = self._rows[a] = {}
        row[b] = row.get(b, 0.0) + 1.0
        if len(row) > 2 * self._max_neighbours:
            self._rows[a] = self._pruned(row)

    def _pruned(self, row: dict[int, float]) -> dict[int, float]:
        """The row's ``max_neighbours`` strongest entries: pruning a row twice that size at once
        costs a sort per ``max_neighbours`` new partners, not a scan per event (profiled: the
        space-saving scan on every insert took 40% of a view-heavy stream's time)."""
        strongest = sorted(row.items(), key=lambda kv: -kv[1])[: self._max_neighbours]
        return dict(strongest)

    def partners(self, item: int) -> dict[int, float]:
        """The items paired with ``item`` and how often."""
        with self._lock:
            return dict(self._rows.get(item, {}))

    def scores(self, item: int, size: int) -> np.ndarray:
        """Pair counts with ``item`` over the space (length ``size``, 0 for none)."""
        out = np.zeros(size, np.float64)
        for other, count in self.partners(item).items():
            if other < size:
                out[other] = count
        return out

    # -- snapshot ---------------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        with self._lock:
            rows = dict(self._rows)
            names, recents = list(self._recent.keys()), list(self._recent.values())
        blob, lengths = pack_strings(names)
        a, b, w = flatten_rows(rows)
        recent_len, recent_item, recent_time = flatten_pairs(recents)
        return {
            "a": a, "b": b, "w": w,
            "groups_blob": blob, "groups_len": lengths,
            "recent_len": recent_len,
            "recent_item": recent_item.astype(np.int64),
            "recent_time": recent_time,
        }  # fmt: skip

    def restore(self, arrays: Mapping[str, np.ndarray], index: np.ndarray) -> None:
        """A snapshot's pairs and groups (none when ``arrays`` lacks them)."""
        if "a" not in arrays:
            with self._lock:
                self._rows, self._recent = {}, OrderedDict()
            return
        rows: dict[int, dict[int, float]] = {}
        pairs = zip(
            index[arrays["a"]].tolist(),
            index[arrays["b"]].tolist(),
            arrays["w"].tolist(),
            strict=True,
        )
        for a, b, w in pairs:
            rows.setdefault(a, {})[b] = w
        groups = unpack_strings(arrays["groups_blob"], arrays["groups_len"])
        items = index[arrays["recent_item"]].tolist()
        times = arrays["recent_time"].tolist()
        recent: OrderedDict[str, list[tuple[int, float]]] = OrderedDict()
        start = 0
        for group, n in zip(groups, arrays["recent_len"].tolist(), strict=True):
            recent[group] = list(
                zip(items[start : start + n], times[start : start + n], strict=True)
            )
            start += n
        with self._lock:
            self._rows, self._recent = rows, recent
