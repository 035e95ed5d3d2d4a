"""Popular items from the stream's per-item activity (the fallback before any model is trained).

Counting happens in the ``realtime`` consumer; requests read a cached ranking refreshed at most
once per ``refresh_s``, so the request path does one dictionary copy, not a GROUP BY.
"""

from __future__ import annotations

import threading
import time

from streamrec.stores.base import UserStateStore

POPULARITY_WINDOW_S = 30 * 86400.0


class PopularItems:
    def __init__(
        self, store: UserStateStore, refresh_s: float = 1.0, window_s: float = POPULARITY_WINDOW_S
    ) -> None:
        self._store = store
        self._refresh_s = refresh_s
        self._window_s = window_s
        self._ranking: list[tuple[str, float]] = []
        self._computed_at = -1e18
        self._lock = threading.Lock()

    def top(self, n: int, exclude: frozenset[str] = frozenset()) -> list[tuple[str, float]]:
        ranking = self._current()
        out = []
        for item_id, score in ranking:
            if item_id not in exclude:
                out.append((item_id, score))
                if len(out) == n:
                    break
        return out

    def _current(self) -> list[tuple[str, float]]:
        now = time.monotonic()
        if now - self._computed_at < self._refresh_s:
            return self._ranking
        with self._lock:
            if now - self._computed_at >= self._refresh_s:
                activity = self._store.item_activity(time.time() - self._window_s)
                self._ranking = sorted(activity.items(), key=lambda kv: (-kv[1], kv[0]))
                self._computed_at = now
        return self._ranking
