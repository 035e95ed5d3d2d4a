"""Which item ids from the stream may enter the serving item space.

Every id in the serving item space costs memory for good and widens every per-request array, so an
id that only junk events mention must not get in (20,000 made-up ids posted with the public tracking
id had already slowed recommendations). Ids the space holds already, and ids ``known`` says exist
(the catalogue's, the active model's), always pass. A new id passes once ``min_users`` distinct users have
sent events about it; until then its users and first ``HELD_RECORDS`` records are kept in an LRU
of at most ``max_pending`` ids (least recently seen forgotten first), and on admission the held
records are counted too. Junk thus costs bounded memory and nothing per request.
Events of ids not admitted still reach the user-state store (each user's last events); they are
left out of popularity, trending and co-occurrence only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence

from streamrec.serving.space import ItemSpace
from streamrec.stream.base import StreamRecord

__all__ = ["ItemAdmission"]

# Records held per waiting id, replayed when it is admitted (more from the same users are dropped).
HELD_RECORDS = 16


class ItemAdmission:
    def __init__(
        self,
        space: ItemSpace,
        min_users: int = 2,
        max_pending: int = 100_000,
        known: Callable[[str], bool] = lambda item_id: False,
    ) -> None:
        self._space = space
        self._known = known
        self._min_users = min_users
        self._max_pending = max_pending
        # item id -> (its users so far, fewer than min_users; its first HELD_RECORDS records)
        self._pending: OrderedDict[str, tuple[set[str], list[StreamRecord]]] = OrderedDict()
        self._admitted: set[str] = set()
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Ids counted but not admitted yet (at most max_pending)."""
        return len(self._pending)

    def admit(self, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        """The records whose item may be counted in the serving state: those of admitted items,
        and, when an item is admitted, the records held for it until then (counts stay exact)."""
        if self._min_users <= 1:
            return list(records)
        out: list[StreamRecord] = []
        with self._lock:
            for record in records:
                out.extend(self._passing(record))
        return out

    def _passing(self, record: StreamRecord) -> list[StreamRecord]:
        item_id = record.event.item_id
        if item_id in self._admitted or self._space.index(item_id) >= 0 or self._known(item_id):
            self._admitted.add(item_id)
            return [record]
        users, held = self._pending.pop(item_id, (set(), []))
        users.add(record.event.user_id)
        if len(held) < HELD_RECORDS:
            held.append(record)
        if len(users) >= self._min_users:
            self._admitted.add(item_id)
            return held
        self._pending[item_id] = (users, held)
        if len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)
        return []
