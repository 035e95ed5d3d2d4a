"""Kept-alive connections closed after ``keepalive_requests`` responses (processes/keepalive.py),
on a real uvicorn server: the hook depends on uvicorn's httptools protocol, pinned here."""

from __future__ import annotations

import http.client
import threading
import time
from collections.abc import Iterator

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from streamrec.processes.keepalive import rotating_protocol
from streamrec.testing._process import free_port


async def _hello(_: object) -> PlainTextResponse:
    return PlainTextResponse("hello")


def _server(max_requests: int) -> Iterator[int]:
    port = free_port()
    app = Starlette(routes=[Route("/", _hello)])
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning",
                            http=rotating_protocol(max_requests), loop="asyncio")  # fmt: skip
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture
def rotating() -> Iterator[int]:
    yield from _server(3)


@pytest.fixture
def never() -> Iterator[int]:
    yield from _server(0)


def _responses(port: int, count: int) -> list[str | None]:
    """The Connection header of each of ``count`` requests sent one after another by one
    client (http.client reconnects after a response that closes the connection)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = []
    for _ in range(count):
        conn.request("GET", "/")
        response = conn.getresponse()
        assert response.read() == b"hello"
        headers.append(response.getheader("connection"))
    conn.close()
    return headers


def test_the_nth_response_closes_the_connection(rotating: int) -> None:
    assert _responses(rotating, 3) == [None, None, "close"]


def test_the_client_reconnects_and_is_served_again(rotating: int) -> None:
    assert _responses(rotating, 7) == [None, None, "close", None, None, "close", None]


def test_zero_never_closes(never: int) -> None:
    assert _responses(never, 6) == [None] * 6
