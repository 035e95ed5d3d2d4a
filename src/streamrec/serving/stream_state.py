"""What the ``realtime`` consumer keeps in memory for the request path: popularity, trending and
an item-to-item co-occurrence of consecutive events, all in the serving item space.

This is how items that appeared after the last training become recommendable: they get
popularity and trending counts, and neighbours through the users who move from one item to the
next, within a second of their first events and without retraining.

Memory is bounded: each item keeps at most ``max_neighbours`` co-occurring items (a full row
evicts its weakest entry, as the space-saving sketch does, so frequent pairs survive); the last
item of at most ``max_users`` users is remembered (least recently active users forgotten first).
A restart must not change what users are recommended, so the whole state is kept in a snapshot
(:meth:`StreamState.snapshot`, :meth:`StreamState.restore`; where it is stored and how the events
after it are replayed: :mod:`streamrec.serving.state_snapshot`). Without a snapshot, popularity and
trending are warmed from the user-state store's per-item activity and co-occurrence is rebuilt from
the events the stream retains (:meth:`StreamState.update_pairs`).

Trending counts an event at its own ``timestamp`` (when it happened), so an import of old events
is not "trending now"; popularity decays from receipt, so imported history still ranks.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence, Set
from typing import TYPE_CHECKING

import numpy as np

from streamrec.consumers.erased import user_digest
from streamrec.event_thresholds import EventThresholds
from streamrec.events import Event
from streamrec.recommenders.popularity import TrendingCounter
from streamrec.recommenders.sparse import STREAM_NEIGHBOURS, STREAM_PAIR_GAP_S
from streamrec.serving.merchandising import Merchandising
from streamrec.serving.packing import flatten_rows, pack_strings, unpack_strings
from streamrec.serving.space import ItemSpace, pad
from streamrec.stores.base import UserStateStore
from streamrec.stream.base import StreamRecord

if TYPE_CHECKING:
    from streamrec.consumers.admission import ItemAdmission

__all__ = ["StreamState", "snapshot_admission"]

POPULARITY_HALF_LIFE_S = 7 * 86_400.0
POPULARITY_WARM_WINDOW_S = 30 * 86_400.0
TRENDING_BUCKETS = 12
MAX_NEIGHBOURS = STREAM_NEIGHBOURS
MAX_USERS = 200_000
SESSION_GAP_S = STREAM_PAIR_GAP_S  # consecutive events further apart than this are not a pair
READ_CACHE_S = 1.0  # trending and popularity shares are recomputed at most this often
SNAPSHOT_FORMAT = 1


class StreamState:
    def __init__(
        self,
        space: ItemSpace,
        event_weights: Mapping[str, float],
        trending_window_s: float = 3_600.0,
        max_neighbours: int = MAX_NEIGHBOURS,
        max_users: int = MAX_USERS,
        merchandising: Merchandising | None = None,
        thresholds: EventThresholds | None = None,
    ) -> None:
        self.space = space
        self._weights = dict(event_weights)
        self._thresholds = thresholds or EventThresholds()  # events below them are not counted
        # best sellers, bought together, also viewed (serving/merchandising.py)
        self.merchandising = merchandising or Merchandising(self._weights)
        self._lock = threading.Lock()
        self.trending = TrendingCounter(0, trending_window_s, TRENDING_BUCKETS)
        self._popularity = np.zeros(0, np.float64)
        self._origin = time.time()  # popularity = sum of w * 2^((t - origin) / half-life)
        self._neighbours: dict[int, dict[int, float]] = {}
        # user -> (their last item: its index, or its id while it waits for admission; when)
        self._last: OrderedDict[str, tuple[int | str, float]] = OrderedDict()
        self._max_neighbours = max_neighbours
        self._max_users = max_users
        self.events_seen = 0
        self._trending_cache: tuple[float, np.ndarray] | None = None
        self._share_cache: tuple[float, np.ndarray] | None = None

    # -- writes (the realtime consumer) ---------------------------------------------------------

    def update(
        self, records: Sequence[StreamRecord], admission: ItemAdmission | None = None
    ) -> None:
        """Count a batch of stream records (in stream order per shard). With ``admission``, only
        the records it admits are counted, and co-occurrence still pairs each user's consecutive
        events in stream order: a pair with an item waiting for admission is held with it and
        counted on admission, so the state does not depend on when an item was admitted."""
        records = self._above_thresholds(records)
        if not records:
            return
        counted = records if admission is None else admission.admit(records)
        events = [r.event for r in counted]
        items = self.space.add(e.item_id for e in events).astype(np.int64)
        weights = np.array([self._weights.get(e.event_type, 1.0) for e in events], np.float32)
        received = np.array([e.received_at for e in events], np.float64)
        happened = np.array([e.timestamp for e in events], np.float64)
        with self._lock:
            if events:
                self.trending.update(items, happened, weights)
                self._add_popularity(items, received, weights)
                self.events_seen += len(events)
            if admission is None:
                self._pairs(events, items.tolist())
            else:
                self._pairs_admitted([r.event for r in records], admission)
        self.merchandising.update(events, items)

    def _above_thresholds(self, records: Sequence[StreamRecord]) -> Sequence[StreamRecord]:
        if not self._thresholds:
            return records
        counts = self._thresholds.counts
        return [r for r in records if counts(r.event.event_type, r.event.event_value)]

    def forget_users(self, digests: Set[str]) -> int:
        """Forget the last item (and the recent baskets) of the users whose id has one of these
        digests (an erasure: :func:`streamrec.consumers.erased.user_digest`); returns how many
        entries went. The ids
        are hashed outside the lock, so counting goes on meanwhile."""
        with self._lock:
            users = list(self._last)
        gone = [user for user in users if user_digest(user) in digests]
        with self._lock:
            for user in gone:
                self._last.pop(user, None)
        return len(gone) + self.merchandising.forget_users(digests)

    def merge_user(self, anonymous_id: str, user_id: str) -> None:
        """An alias (streamrec.aliases): the anonymous id's last item becomes the user's when
        it is the newer of the two."""
        with self._lock:
            last = self._last.pop(anonymous_id, None)
            mine = self._last.get(user_id)
            if last is not None and (mine is None or mine[1] <= last[1]):
                self._last[user_id] = last
                self._last.move_to_end(user_id)

    def _pairs_admitted(self, events: Sequence[Event], admission: ItemAdmission) -> None:
        weights, index = self._weights, self.space.index
        for event in events:
            item = index(event.item_id)
            key: int | str = item if item >= 0 else event.item_id
            last = self._step(event.user_id, key, event.timestamp)
            if last is not None:
                weight = float(weights.get(event.event_type, 1.0))
                self._count_pair((last, key, weight), admission)
        for pair in admission.released_pairs():
            self._count_pair(pair, admission)

    def _count_pair(
        self, pair: tuple[int | str, int | str, float], admission: ItemAdmission
    ) -> None:
        a, b, weight = self._resolve(pair[0]), self._resolve(pair[1]), pair[2]
        if isinstance(a, str):
            admission.hold_pair(a, (a, b, weight))
        elif isinstance(b, str):
            admission.hold_pair(b, (a, b, weight))
        else:
            self._bump(a, b, weight)
            self._bump(b, a, weight)

    def _resolve(self, key: int | str) -> int | str:
        """An item's index once it is in the space; its id while it waits for admission."""
        if isinstance(key, int):
            return key
        item = self.space.index(key)
        return item if item >= 0 else key

    def update_pairs(self, records: Sequence[StreamRecord]) -> None:
        """Only the co-occurrence of a batch: for events whose counts the state already holds
        (warmed from the user-state store) when co-occurrence is rebuilt from the stream."""
        records = self._above_thresholds(records)
        if not records:
            return
        events = [r.event for r in records]
        indices = self.space.add(e.item_id for e in events).astype(np.int64)
        with self._lock:
            self._pairs(events, indices.tolist())
        self.merchandising.update(events, indices)  # not warmed from the store: rebuilt here

    def _pairs(self, events: Sequence[Event], items: Sequence[int]) -> None:
        weights = self._weights
        for event, item in zip(events, items, strict=True):
            self._pair(
                event.user_id, item, event.timestamp, float(weights.get(event.event_type, 1.0))
            )

    def _add_popularity(self, items: np.ndarray, when: np.ndarray, weights: np.ndarray) -> None:
        if when.size and (when.max() - self._origin) / POPULARITY_HALF_LIFE_S > 500:
            self._rebase(float(when.max()))  # keeps 2^x finite on servers running for years
        grown = pad(self._popularity, max(len(self.space), self._popularity.size))
        decay = np.exp2((when - self._origin) / POPULARITY_HALF_LIFE_S)
        np.add.at(grown, items, weights * decay)
        self._popularity = grown

    def _rebase(self, origin: float) -> None:
        self._popularity = self._popularity * math.pow(
            2.0, (self._origin - origin) / POPULARITY_HALF_LIFE_S
        )
        self._origin = origin

    def _pair(self, user: str, item: int, timestamp: float, weight: float) -> None:
        last = self._step(user, item, timestamp)
        if isinstance(last, int):
            self._bump(last, item, weight)
            self._bump(item, last, weight)

    def _step(self, user: str, item: int | str, timestamp: float) -> int | str | None:
        """Record the user's newest item; returns the one before it when the two make a pair
        (a different item, within SESSION_GAP_S)."""
        last = self._last.pop(user, None)
        self._last[user] = (item, timestamp)
        if len(self._last) > self._max_users:
            self._last.popitem(last=False)
        if last is None or abs(timestamp - last[1]) > SESSION_GAP_S:
            return None
        before = self._resolve(last[0])
        return None if before == item else before

    def _bump(self, a: int, b: int, weight: float) -> None:
        row = self._neighbours.setdefault(a, {})
        if b in row or len(row) < self._max_neighbours:
            row[b] = row.get(b, 0.0) + weight
            return
        weakest = min(row, key=row.__getitem__)
        floor = row.pop(weakest)
        row[b] = floor + weight  # space-saving: the newcomer inherits the evicted count

    def warm(self, store: UserStateStore, now: float | None = None) -> None:
        """Seed popularity and trending from the store's per-item activity (survives restarts)."""
        now = time.time() if now is None else now
        popular = store.item_activity(now - POPULARITY_WARM_WINDOW_S)
        bucket_s = self.trending.bucket_s
        recent: list[tuple[str, float, float]] = []
        for k in range(2 * TRENDING_BUCKETS):
            start = now - (k + 1) * bucket_s
            until = None if k == 0 else start + bucket_s  # the newest bucket runs up to now
            for item, weight in store.item_activity(start, until).items():
                recent.append((item, start + bucket_s / 2, weight))
        with self._lock:
            items = self.space.add(popular).astype(np.int64)
            weights = np.fromiter(popular.values(), np.float32, len(popular))
            self._add_popularity(items, np.full(items.size, now - POPULARITY_HALF_LIFE_S), weights)
            if recent:
                idx = self.space.add(r[0] for r in recent).astype(np.int64)
                self.trending.update(
                    idx, np.array([r[1] for r in recent]), np.array([r[2] for r in recent])
                )

    # -- snapshot (survives restarts) -----------------------------------------------------------

    def snapshot(self, positions: Mapping[int, int], admission: bytes = b"") -> bytes:
        """The whole state as ``.npz`` bytes (no pickle), with the stream ``positions`` (per
        shard, the next offset not yet counted) it reflects, and the ids waiting for admission
        then (``ItemAdmission.dump``; read back with :func:`snapshot_admission`).

        Call it from the thread that feeds the state (the only writer): nothing changes while it
        runs, so it takes no lock and requests reading the state are not held up by it (on a
        large state it walks millions of co-occurrence entries)."""
        arrays = self._arrays()
        shards = sorted(positions)
        arrays["shards"] = np.array(shards, np.int64)
        arrays["offsets"] = np.array([positions[s] for s in shards], np.int64)
        arrays["admission"] = np.frombuffer(admission, np.uint8)
        buffer = io.BytesIO()
        np.savez(buffer, allow_pickle=False, **arrays)
        return buffer.getvalue()

    def _arrays(self) -> dict[str, np.ndarray]:
        # Every index the state holds was added to the space before it was counted.
        ids_blob, ids_len = self.space.packed_ids()
        a, b, w = flatten_rows(self._neighbours)
        users_blob, users_len = pack_strings(list(self._last))
        last = list(self._last.values())
        # a user's last item still waiting for admission: index -1 and its id in last_waiting
        waiting_blob, waiting_len = pack_strings(
            [x[0] if isinstance(x[0], str) else "" for x in last]
        )
        t_items, t_times, t_weights = trending_entries(self.trending)
        return {
            "format": np.array([SNAPSHOT_FORMAT], np.int64),
            "ids_blob": ids_blob, "ids_len": ids_len,
            "popularity": self._popularity, "origin": np.array([self._origin]),
            "pair_a": a, "pair_b": b, "pair_w": w,
            "users_blob": users_blob, "users_len": users_len,
            "last_item": np.array([x[0] if isinstance(x[0], int) else -1 for x in last], np.int64),
            "waiting_blob": waiting_blob, "waiting_len": waiting_len,
            "last_time": np.array([x[1] for x in last], np.float64),
            "trend_item": t_items, "trend_time": t_times, "trend_weight": t_weights,
            "events_seen": np.array([self.events_seen], np.int64),
            **self.merchandising.arrays(),
        }  # fmt: skip

    def restore(self, data: bytes) -> dict[int, int]:
        """Replace the counts with a snapshot's (its item ids mapped into this space); returns
        the stream positions it reflects. ValueError for bytes that are not a snapshot."""
        with np.load(io.BytesIO(data), allow_pickle=False) as z:
            if int(z["format"][0]) != SNAPSHOT_FORMAT:
                raise ValueError(f"snapshot format {int(z['format'][0])} is not {SNAPSHOT_FORMAT}")
            arrays = {name: z[name] for name in z.files}
        index = self.space.add(unpack_strings(arrays["ids_blob"], arrays["ids_len"]))
        index = index.astype(np.int64)
        with self._lock:
            self._restore_counts(arrays, index)
            self._restore_pairs(arrays, index)
            self.events_seen = int(arrays["events_seen"][0])
            self._trending_cache = self._share_cache = None
        self.merchandising.restore(arrays, index)
        return dict(zip(arrays["shards"].tolist(), arrays["offsets"].tolist(), strict=True))

    def _restore_counts(self, arrays: Mapping[str, np.ndarray], index: np.ndarray) -> None:
        popularity = arrays["popularity"]
        self._popularity = np.zeros(len(self.space), np.float64)
        self._popularity[index[: popularity.size]] = popularity
        self._origin = float(arrays["origin"][0])
        self.trending = TrendingCounter(0, self.trending.window_s, self.trending.per_window)
        items = arrays["trend_item"]
        self.trending.update(index[items], arrays["trend_time"], arrays["trend_weight"])

    def _restore_pairs(self, arrays: Mapping[str, np.ndarray], index: np.ndarray) -> None:
        self._neighbours = {}
        pairs = zip(
            index[arrays["pair_a"]].tolist(),
            index[arrays["pair_b"]].tolist(),
            arrays["pair_w"].tolist(),
            strict=True,
        )
        for a, b, w in pairs:
            self._neighbours.setdefault(a, {})[b] = w
        users = unpack_strings(arrays["users_blob"], arrays["users_len"])
        last_item = arrays["last_item"]
        items: list[int | str] = list(index[last_item].tolist())
        if "waiting_len" in arrays:  # last items waiting for admission (-1), by id
            waiting = unpack_strings(arrays["waiting_blob"], arrays["waiting_len"])
            items = [
                w if i < 0 else k
                for k, i, w in zip(items, last_item.tolist(), waiting, strict=True)
            ]
        last = zip(items, arrays["last_time"].tolist(), strict=True)
        self._last = OrderedDict(zip(users, last, strict=True))

    # -- reads (the request path) ---------------------------------------------------------------

    def popularity(self, size: int) -> np.ndarray:
        """Time-decayed weighted event counts per item, in the space (length ``size``)."""
        return pad(self._popularity, size)

    def trending_scores(self, size: int, now: float | None = None) -> np.ndarray:
        """Trending score per item; recomputed at most every READ_CACHE_S (it sums every bucket
        of every item), so treat the result as read-only."""
        now = time.time() if now is None else now
        cached = self._trending_cache
        if cached is None or now - cached[0] >= READ_CACHE_S or cached[1].size < size:
            with self._lock:
                scores = self.trending.scores(now).astype(np.float64)
            cached = self._trending_cache = (now, pad(scores, max(size, scores.size)))
        return pad(cached[1], size)

    def popularity_share(self, size: int, now: float | None = None) -> np.ndarray:
        """Popularity divided by the top item's (0 to 1), cached like ``trending_scores``."""
        now = time.time() if now is None else now
        cached = self._share_cache
        if cached is None or now - cached[0] >= READ_CACHE_S or cached[1].size < size:
            pop = self.popularity(size)
            top = float(pop.max(initial=0.0))
            cached = self._share_cache = (now, pop / top if top > 0 else np.zeros(size))
        return pad(cached[1], size)

    def neighbours(self, item: int) -> dict[int, float]:
        with self._lock:
            return dict(self._neighbours.get(item, {}))

    def cooccurrence_scores(
        self, items: Sequence[int], weights: Sequence[float], size: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Indices and scores of the neighbours of ``items``, each row scaled by its weight
        (the caller passes recency and event-type weights) and normalised by its own total."""
        acc: dict[int, float] = {}
        with self._lock:
            for item, weight in zip(items, weights, strict=True):
                row = self._neighbours.get(item)
                if not row:
                    continue
                total = sum(row.values())
                for other, count in row.items():
                    if other < size:
                        acc[other] = acc.get(other, 0.0) + weight * count / total
        idx = np.fromiter(acc.keys(), np.int64, len(acc))
        return idx, np.fromiter(acc.values(), np.float64, len(acc))

    def cooccurrence_sources(
        self, items: Sequence[int], weights: Sequence[float], targets: Sequence[int]
    ) -> list[int]:
        """For each of ``targets``: which of ``items`` gave it the most in
        ``cooccurrence_scores`` (-1: none of them reaches it)."""
        best = [(-1, 0.0)] * len(targets)
        with self._lock:
            for item, weight in zip(items, weights, strict=True):
                row = self._neighbours.get(item)
                if not row:
                    continue
                hits = [(pos, row[t]) for pos, t in enumerate(targets) if t in row]
                if not hits:
                    continue
                total = sum(row.values())
                for pos, count in hits:
                    if weight * count / total > best[pos][1]:
                        best[pos] = (item, weight * count / total)
        return [item for item, _ in best]


def snapshot_admission(data: bytes) -> bytes:
    """The ids waiting for admission a snapshot holds (b"" in one written without them)."""
    with np.load(io.BytesIO(data), allow_pickle=False) as z:
        return z["admission"].tobytes() if "admission" in z.files else b""


def trending_entries(counter: TrendingCounter) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(item, time, weight) for every non-zero bucket count: replaying them through
    ``TrendingCounter.update`` rebuilds the same buckets. Reads the counter's ring directly, as
    the counter offers no export of its own."""
    counts = counter._counts[:, : counter.n_items]
    slots, items = np.nonzero(counts)
    buckets = counter._bucket_of_slot[slots]
    live = buckets >= 0
    slots, items, buckets = slots[live], items[live], buckets[live]
    times = (buckets.astype(np.float64) + 0.5) * counter.bucket_s
    return items.astype(np.int64), times, counts[slots, items].astype(np.float32)
