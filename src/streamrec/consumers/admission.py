"""Which item ids from the stream may enter the serving item space.

Every id in the serving item space costs memory for good and widens every per-request array, so an
id that only junk events mention must not get in (20,000 made-up ids posted with the public tracking
id had already slowed recommendations). Ids the space holds already, and ids ``known`` says exist
(the catalogue's, the active model's), always pass. A new id passes once ``min_users`` distinct users have
sent events about it; until then its users and first ``HELD_RECORDS`` records are kept in an LRU
of at most ``max_pending`` ids (least recently seen forgotten first), and on admission the held
records are counted too. Junk thus costs bounded memory and nothing per request.

Co-occurrence pairs a user's consecutive events in stream order, whenever the items are admitted:
a pair with a waiting id is held with it (:meth:`ItemAdmission.hold_pair`) and counted when it is
admitted (:meth:`ItemAdmission.released_pairs`), never re-paired with whatever the user did last
by then. So the state does not depend on when an id was admitted, which follows how a process's
batches interleave the stream's shards: every serving process, and a restart, count the same.
Events of ids not admitted still reach the user-state store (each user's last events); they are
left out of popularity, trending and co-occurrence only.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence, Set

import msgspec

from streamrec.consumers.erased import user_digest
from streamrec.serving.space import ItemSpace
from streamrec.stream.base import StreamRecord

__all__ = ["ItemAdmission"]

# Records held per waiting id, replayed when it is admitted (more from the same users are dropped).
HELD_RECORDS = 16
# Co-occurrence pairs held per waiting id (its events' predecessors and successors).
HELD_PAIRS = 2 * HELD_RECORDS

# A user's consecutive items and the pair's weight; an item is its serving index once admitted,
# its id while it waits.
HeldPair = tuple[int | str, int | str, float]


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
        # item id -> (its users so far, fewer than min_users; its first HELD_RECORDS records;
        # co-occurrence pairs with it, counted once it is admitted)
        self._pending: OrderedDict[str, tuple[set[str], list[StreamRecord], list[HeldPair]]] = (
            OrderedDict()
        )
        self._admitted: set[str] = set()
        self._released: list[HeldPair] = []
        self._lock = threading.Lock()

    @property
    def pending(self) -> int:
        """Ids counted but not admitted yet (at most max_pending)."""
        return len(self._pending)

    def waiting(self, item_id: str) -> bool:
        """Whether the stream brought events about ``item_id`` that wait for admission (the id
        is known to the stream, not counted yet)."""
        with self._lock:
            return item_id in self._pending

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
        users, held, pairs = self._pending.pop(item_id, (set(), [], []))
        users.add(record.event.user_id)
        if len(held) < HELD_RECORDS:
            held.append(record)
        if len(users) >= self._min_users:
            self._admitted.add(item_id)
            self._released.extend(pairs)
            return held
        self._pending[item_id] = (users, held, pairs)
        if len(self._pending) > self._max_pending:
            self._pending.popitem(last=False)
        return []

    def hold_pair(self, item_id: str, pair: HeldPair) -> None:
        """Keep a co-occurrence pair with ``item_id`` (waiting) until it is admitted; dropped
        when the id is not waiting (forgotten) or holds HELD_PAIRS already."""
        with self._lock:
            waiting = self._pending.get(item_id)
            if waiting is not None and len(waiting[2]) < HELD_PAIRS:
                waiting[2].append(pair)

    def released_pairs(self) -> list[HeldPair]:
        """The pairs held for the ids admitted since the last call (the state counts them)."""
        with self._lock:
            released, self._released = self._released, []
        return released

    def forget_users(self, digests: Set[str]) -> None:
        """Drop the users whose id has one of these digests, and their held records, from the
        waiting ids (an erasure; see streamrec.consumers.erased)."""
        with self._lock:
            for users, held, _ in self._pending.values():
                gone = {user for user in users if user_digest(user) in digests}
                if gone:
                    users.difference_update(gone)
                    held[:] = [r for r in held if r.event.user_id not in gone]

    def dump(self) -> bytes:
        """The ids waiting for admission (users, held records and pairs) as bytes, for the
        real-time state's snapshot: a restart must not forget what a waiting id has gathered,
        whose records the snapshot's positions say are counted. Items in pairs are written by
        id (indices differ between processes)."""
        space = self._space
        with self._lock:
            waiting = [
                (item_id, sorted(users), held, [
                    (_id_of(space, a), _id_of(space, b), w) for a, b, w in pairs
                ])
                for item_id, (users, held, pairs) in self._pending.items()
            ]  # fmt: skip
        return msgspec.msgpack.encode(waiting)

    def load(self, data: bytes) -> None:
        """Take back the waiting ids of :meth:`dump` (before any record is admitted)."""
        waiting = msgspec.msgpack.decode(data, type=list[_Waiting])
        with self._lock:
            for item_id, users, held, pairs in waiting:
                held_pairs: list[HeldPair] = [(a, b, w) for a, b, w in pairs]
                self._pending[item_id] = (set(users), list(held), held_pairs)
            while len(self._pending) > self._max_pending:
                self._pending.popitem(last=False)


_Waiting = tuple[str, list[str], list[StreamRecord], list[tuple[str, str, float]]]


def _id_of(space: ItemSpace, key: int | str) -> str:
    return key if isinstance(key, str) else space.id(key)
