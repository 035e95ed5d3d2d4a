"""Per event type, how often each item had an event in the last hour to 90 days: best sellers
(``purchase``) and most viewed (``view``) over a chosen window, from the stream within seconds.

Counts live in time buckets per event type, in two tiers: 10-minute buckets for the last two days
(windows up to 48 hours) and day buckets for the last 91 days (longer windows). A window counts
every bucket that ends after ``now - window``, so it reaches back at most one bucket further than
asked (10 minutes, or a day for windows over 48 hours) and never drops a newer event; an event
older than a whole bucket beyond the window is never counted. An event counts at its own
``timestamp`` (when it happened), so an import of last month's orders lands in last month.

Memory is bounded: buckets older than their tier's horizon are dropped, only the configured event
types are counted, and a bucket keeps at most ``max_items_per_bucket`` items (its most frequent;
the tail of a bucket is what a best-seller list never shows). A bucket is a pair of arrays (item,
count), 12 bytes an entry, plus the batches appended since its last compaction.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence

import numpy as np

__all__ = ["MAX_WINDOW_S", "MIN_WINDOW_S", "TIERS", "WindowedCounts"]

# (bucket length, horizon) in seconds; a window uses the first tier whose horizon covers it
TIERS: tuple[tuple[float, float], ...] = ((600.0, 48 * 3_600.0), (86_400.0, 91 * 86_400.0))
MIN_WINDOW_S = 3_600.0
MAX_WINDOW_S = 90 * 86_400.0
MAX_ITEMS_PER_BUCKET = 50_000
READ_CACHE_S = 1.0
MAX_CACHED = 64


class _Bucket:
    """One bucket's counts: compacted unique items with their counts, plus appended batches."""

    __slots__ = ("counts", "items", "pending", "pending_size")

    def __init__(self) -> None:
        self.items: np.ndarray = np.zeros(0, np.int64)
        self.counts: np.ndarray = np.zeros(0, np.float64)
        self.pending: list[tuple[np.ndarray, np.ndarray]] = []
        self.pending_size = 0

    def add(self, items: np.ndarray, counts: np.ndarray, cap: int) -> None:
        self.pending.append((items, counts))
        self.pending_size += items.size
        if self.pending_size > max(4_096, self.items.size):
            self.compact(cap)

    def compact(self, cap: int) -> None:
        if not self.pending:
            return
        items = np.concatenate([self.items, *(p[0] for p in self.pending)])
        counts = np.concatenate([self.counts, *(p[1] for p in self.pending)])
        unique, inverse = np.unique(items, return_inverse=True)
        summed = np.bincount(inverse, counts, unique.size)
        if unique.size > cap:
            keep = np.sort(np.argpartition(-summed, cap - 1)[:cap])
            unique, summed = unique[keep], summed[keep]
        self.items, self.counts = unique, summed
        self.pending, self.pending_size = [], 0


class WindowedCounts:
    def __init__(
        self,
        event_types: Iterable[str],
        tiers: Sequence[tuple[float, float]] = TIERS,
        max_items_per_bucket: int = MAX_ITEMS_PER_BUCKET,
    ) -> None:
        self.event_types = tuple(dict.fromkeys(event_types))
        self._code = {t: k for k, t in enumerate(self.event_types)}
        self.tiers = tuple(tiers)
        self._cap = max_items_per_bucket
        # per tier: (event type code, bucket number) -> bucket
        self._buckets: list[dict[tuple[int, int], _Bucket]] = [{} for _ in self.tiers]
        self._lock = threading.Lock()
        self._cache: dict[tuple[str | None, float], tuple[float, np.ndarray]] = {}

    def update(
        self,
        event_types: Sequence[str],
        items: np.ndarray,
        times: np.ndarray,
        now: float | None = None,
    ) -> None:
        """Count one event per (type, item, time); types not configured are left out."""
        now = time.time() if now is None else now
        codes = np.array([self._code.get(t, -1) for t in event_types], np.int64)
        keep = codes >= 0
        codes, items, times = codes[keep], items[keep].astype(np.int64), times[keep]
        with self._lock:
            for tier, (bucket_s, horizon) in enumerate(self.tiers):
                numbers = np.floor(times / bucket_s).astype(np.int64)
                live = numbers >= math.floor((now - horizon) / bucket_s) - 1
                self._add(tier, codes[live], numbers[live], items[live])
                self._evict(tier, now)

    def _add(self, tier: int, codes: np.ndarray, numbers: np.ndarray, items: np.ndarray) -> None:
        if not items.size:
            return
        keys = np.stack([codes, numbers], axis=1)
        unique, inverse = np.unique(keys, axis=0, return_inverse=True)
        order = np.argsort(inverse.ravel(), kind="stable")
        bounds = np.searchsorted(inverse.ravel()[order], np.arange(len(unique) + 1))
        buckets = self._buckets[tier]
        for k, (code, number) in enumerate(unique.tolist()):
            chosen = items[order[bounds[k] : bounds[k + 1]]]
            bucket = buckets.setdefault((code, number), _Bucket())
            bucket.add(chosen, np.ones(chosen.size), self._cap)

    def _evict(self, tier: int, now: float) -> None:
        bucket_s, horizon = self.tiers[tier]
        oldest = math.floor((now - horizon) / bucket_s) - 1
        buckets = self._buckets[tier]
        for key in [k for k in buckets if k[1] < oldest]:
            del buckets[key]

    # -- reads ------------------------------------------------------------------------------------

    def scores(
        self,
        event_type: str | None,
        window_s: float,
        size: int,
        weights: Mapping[str, float] | None = None,
        now: float | None = None,
    ) -> np.ndarray:
        """Events per item (length ``size``) in the last ``window_s`` seconds: of ``event_type``,
        or of every configured type each times its weight in ``weights`` (default 1). Cached
        for READ_CACHE_S per (type, window): treat the result as read-only."""
        now = time.time() if now is None else now
        key = (event_type, window_s)
        cached = self._cache.get(key)
        if cached is not None and now - cached[0] < READ_CACHE_S and cached[1].size >= size:
            return cached[1][:size]
        out = self._sum(event_type, window_s, size, weights or {}, now)
        if len(self._cache) >= MAX_CACHED:
            self._cache.clear()
        self._cache[key] = (now, out)
        return out

    def _sum(
        self,
        event_type: str | None,
        window_s: float,
        size: int,
        weights: Mapping[str, float],
        now: float,
    ) -> np.ndarray:
        tier = next((k for k, t in enumerate(self.tiers) if window_s <= t[1]), len(self.tiers) - 1)
        bucket_s = self.tiers[tier][0]
        first = math.floor((now - window_s) / bucket_s)
        types = self.event_types if event_type is None else (event_type,)
        factor = {
            self._code[t]: 1.0 if event_type is not None else float(weights.get(t, 1.0))
            for t in types
            if t in self._code
        }
        out = np.zeros(size, np.float64)
        with self._lock:
            for (code, number), bucket in self._buckets[tier].items():
                if number < first or code not in factor:
                    continue
                bucket.compact(self._cap)
                inside = bucket.items < size
                out[bucket.items[inside]] += factor[code] * bucket.counts[inside]
        return out

    # -- snapshot ---------------------------------------------------------------------------------

    def arrays(self) -> dict[str, np.ndarray]:
        """Every bucket as flat arrays (per tier: type code, bucket number, entry count; then
        the items and counts); the type names are stored by the caller."""
        out: dict[str, np.ndarray] = {}
        with self._lock:
            for tier, buckets in enumerate(self._buckets):
                for bucket in buckets.values():
                    bucket.compact(self._cap)
                keys = list(buckets)
                out[f"t{tier}_code"] = np.array([k[0] for k in keys], np.int64)
                out[f"t{tier}_number"] = np.array([k[1] for k in keys], np.int64)
                out[f"t{tier}_len"] = np.array([buckets[k].items.size for k in keys], np.int64)
                out[f"t{tier}_items"] = _concat([buckets[k].items for k in keys], np.int64)
                out[f"t{tier}_counts"] = _concat([buckets[k].counts for k in keys], np.float64)
        return out

    def restore(
        self, arrays: Mapping[str, np.ndarray], type_names: Sequence[str], index: np.ndarray
    ) -> None:
        """Replace the buckets with a snapshot's; ``index`` maps its item numbers into this
        space, ``type_names`` its type codes to names (types no longer configured are dropped)."""
        codes = np.array([self._code.get(t, -1) for t in type_names], np.int64)
        with self._lock:
            self._cache.clear()
            for tier in range(len(self.tiers)):
                self._buckets[tier] = {}
                if f"t{tier}_code" not in arrays:
                    continue
                ends = np.cumsum(arrays[f"t{tier}_len"]).tolist()
                starts = [0, *ends][: len(ends)]
                items, counts = arrays[f"t{tier}_items"], arrays[f"t{tier}_counts"]
                keys = zip(
                    arrays[f"t{tier}_code"].tolist(),
                    arrays[f"t{tier}_number"].tolist(),
                    strict=True,
                )
                for (code, number), a, b in zip(keys, starts, ends, strict=True):
                    if code >= codes.size or codes[code] < 0:
                        continue
                    bucket = _Bucket()
                    bucket.add(index[items[a:b]], counts[a:b].astype(np.float64), self._cap)
                    bucket.compact(self._cap)
                    self._buckets[tier][(int(codes[code]), number)] = bucket


def _concat(parts: list[np.ndarray], dtype: type) -> np.ndarray:
    return np.concatenate(parts).astype(dtype) if parts else np.zeros(0, dtype)
