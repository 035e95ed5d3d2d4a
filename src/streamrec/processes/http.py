"""Running the HTTP API in this process with uvicorn, on a port or on sockets a parent bound."""

from __future__ import annotations

import socket
import sys

from streamrec.runtime import Runtime

__all__ = ["bind_socket", "serve_http"]


def bind_socket(host: str, port: int) -> socket.socket:
    """The socket the API workers share: bound once, in the supervisor, so a port in use is one
    clear error at start and every worker accepts from the same queue.

    It is not listening yet: the first worker ready to serve makes it listen (asyncio's server
    calls ``listen()``). A listening socket with no worker would queue connections that no one
    answers; a client that timed out and retried would then find its first request served too,
    late, once a worker came up (after a restart, the same events stored three times)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def serve_http(runtime: Runtime, sockets: list[socket.socket] | None = None) -> None:
    """Serve until SIGINT / SIGTERM: on ``sockets`` when given, else on the settings' port."""
    import uvicorn
    from threadpoolctl import threadpool_limits

    # Threads in this process (the stream tail, model polls) share the GIL with the event loop;
    # a shorter switch interval (default 5 ms) bounds how long one holds up a request.
    sys.setswitchinterval(0.001)
    # One BLAS thread per request: scoring is a small matrix-vector product, and BLAS thread pools
    # fighting over the cores cost more (ALS fold-in p50 went from ~5 ms to ~24 ms under load).
    threadpool_limits(1)

    from streamrec.api.app import create_app
    from streamrec.heap import serving_process, thaw
    from streamrec.processes.keepalive import rotating_protocol

    s = runtime.settings
    app = create_app(runtime)
    serving_process()  # the state loaded so far out of the collector's full passes (heap.py)
    config = uvicorn.Config(
        app,
        host=s.host,
        port=s.port,
        log_level="warning",
        access_log=False,
        loop="uvloop",
        http=rotating_protocol(s.keepalive_requests),
        timeout_graceful_shutdown=5,
    )
    try:
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        thaw()  # before the interpreter exits (heap.py)
