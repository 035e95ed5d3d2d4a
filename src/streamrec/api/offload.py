"""Keeping blocking work off the event loop, without paying a thread hand-off where none blocks.

Read routes stay ``async def`` and run inline when everything they touch is local and quick
(embedded SQLite stores, a loaded model): a hand-off to the thread pool cost more than the work
itself there. They go to a worker thread when a call may wait: a read from a Redis or PostgreSQL
store (a network round trip, or a timeout when the server is away), or a request that would load
the served model first. Writes to the catalogue always go to a thread (a SQLite commit with an
fsync, and a wait for the write lock when another process writes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from streamrec.api.state import runtime_of

__all__ = ["off_loop", "off_loop_when_blocking"]

P = ParamSpec("P")
T = TypeVar("T")


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Run ``fn`` on a worker thread and wait for it without blocking the loop."""
    return await run_in_threadpool(fn, *args, **kwargs)


def _may_block(request: Request) -> bool:
    runtime = runtime_of(request)
    return runtime.remote_reads or runtime.models.loads_on_next_read(runtime.settings.campaign)


async def off_loop_when_blocking(
    request: Request, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs
) -> T:
    """``fn(*args)`` inline when it cannot wait on I/O, else on a worker thread."""
    if _may_block(request):
        return await run_in_threadpool(fn, *args, **kwargs)
    return fn(*args, **kwargs)
