"""Closing a kept-alive HTTP connection after a number of requests, so load moves between workers.

The API workers of ``streamrec serve`` accept from one shared queue, and a connection stays with
the worker that accepted it. A client that opens a few keep-alive connections at once (wrk -c4,
a proxy's pool) often had every one of them taken by the first worker to wake, which then served
the whole load while the other idled. Measured on 2 workers, MovieLens 100K recommendations,
24 four-second wrk -c4 runs per side in alternating batches (2026-12-03, load 2-3): without
this, all 4 connections sat on one worker 3 s into 5 of 24 runs, which served 304-478 req/s
(all runs: median 516, 304-645); with ``keepalive_requests = 100`` in none of 24 (median 495,
450-699). The medians are level within this machine's noise: what it removes is the run where
one worker idles. libuv's ``UV_TCP_SINGLE_ACCEPT``, tried first, changed nothing (6 and 8 of 20
runs on one worker).

After ``keepalive_requests`` responses on one connection, the next response says
``Connection: close`` and the connection ends; the client reconnects (HTTP/1.1 clients do), and
the new connection goes to whichever worker accepts first, the least busy one as a rule. This
is Apache's ``MaxKeepAliveRequests`` (default 100) and nginx's ``keepalive_requests`` (1000; 100
before 1.19.10).
One reconnect per 100 requests costs a TCP handshake per 100 requests of ~1-3 ms each.

The hook is uvicorn's httptools protocol (``on_headers_complete`` and the request cycle's
``keep_alive``, which uvicorn itself sets from the request): tests/processes/test_keepalive.py
holds it to the pinned uvicorn.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

__all__ = ["rotating_protocol"]


def rotating_protocol(max_requests: int) -> type[HttpToolsProtocol]:
    """uvicorn's httptools protocol, closing each connection after ``max_requests`` responses
    (0: never, as uvicorn does)."""
    if max_requests <= 0:
        return HttpToolsProtocol

    class RotatingHttpToolsProtocol(HttpToolsProtocol):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.requests_seen = 0

        def on_headers_complete(self) -> None:
            super().on_headers_complete()
            self.requests_seen += 1
            if self.requests_seen >= max_requests and self.cycle is not None:
                self.cycle.keep_alive = False  # this response says Connection: close

    return RotatingHttpToolsProtocol
