"""Per-client rate limiting of the public event routes (``POST /v1/events``, ``POST /interaction``).

The tracking id is public (it is in every page that loads tracker.js), so anyone can post events;
a token bucket per client address caps how fast one client can. Off by default
(``event_rate_limit_per_s = 0``): most deployments post from their own backend, and a limit on by
default would throttle them. Requests that carry the admin key (server-to-server) are never limited
unless ``event_rate_limit_admin`` is set. A limited request is a 429 with Retry-After. Behind a proxy
every client has the proxy's address, so the limit applies to all of them together.

The buckets live in memory, one per client, at most ``MAX_CLIENTS`` (least recently seen dropped).
"""

from __future__ import annotations

import hmac
import math
import threading
import time
from collections import OrderedDict

from fastapi import Request

from streamrec.config import Settings
from streamrec.errors import RateLimitedError

MAX_CLIENTS = 100_000


class TokenBuckets:
    """One bucket per client: `rate_per_s` tokens a second, holding at most `burst`."""

    def __init__(self, rate_per_s: float, burst: int, max_clients: int = MAX_CLIENTS) -> None:
        self.rate_per_s = rate_per_s
        self.burst = float(burst)
        self._max_clients = max_clients
        self._buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, client: str, now: float) -> float:
        """Take a token: 0.0 when allowed, else the seconds until the next token."""
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate_per_s)
            allowed = tokens >= 1.0
            self._buckets[client] = (tokens - 1.0 if allowed else tokens, now)
            if len(self._buckets) > self._max_clients:
                self._buckets.popitem(last=False)
        return 0.0 if allowed else (1.0 - tokens) / self.rate_per_s


def buckets_for(settings: Settings) -> TokenBuckets | None:
    rate = settings.event_rate_limit_per_s
    if rate <= 0:
        return None
    burst = settings.event_rate_limit_burst or max(1, math.ceil(2 * rate))
    return TokenBuckets(rate, burst)


def _is_admin(request: Request, admin_key: str | None) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return (
        admin_key is not None
        and scheme.lower() == "bearer"
        and hmac.compare_digest(token.strip(), admin_key)
    )


def check_rate(request: Request, settings: Settings, buckets: TokenBuckets | None) -> None:
    """Raise RateLimitedError (429) when this client has posted faster than the limit."""
    if buckets is None:
        return
    if not settings.event_rate_limit_admin and _is_admin(request, settings.admin_key):
        return
    client = request.client.host if request.client is not None else "unknown"
    wait_s = buckets.take(client, time.monotonic())
    if wait_s > 0:
        raise RateLimitedError(
            f"too many event requests from {client}: at most "
            f"{buckets.rate_per_s:g} a second (burst {buckets.burst:g})",
            retry_after_s=max(1, math.ceil(wait_s)),
        )
