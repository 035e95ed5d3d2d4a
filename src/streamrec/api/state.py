"""Access to the running Runtime from a request."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from fastapi import Request

if TYPE_CHECKING:
    from streamrec.api.metrics import Metrics
    from streamrec.runtime import Runtime


def runtime_of(request: Request) -> Runtime:
    return cast("Runtime", request.app.state.runtime)


def metrics_of(request: Request) -> Metrics:
    return cast("Metrics", request.app.state.metrics)
