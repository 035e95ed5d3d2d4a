"""GET /v1/status, /healthz and /metrics."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import PlainTextResponse, Response

from streamrec.api.responses import json_response
from streamrec.api.state import metrics_of, runtime_of
from streamrec.runtime import Runtime
from streamrec.shared_metrics import shared_dir

router = APIRouter(tags=["operations"])


def _counter_total(request: Request, name: str) -> float:
    total = 0.0
    for metric in metrics_of(request).registry.collect():
        for sample in metric.samples:
            if sample.name == name:
                total += sample.value
    return total


def stream_json(runtime: Runtime) -> list[dict[str, Any]]:
    groups = runtime.enabled_groups()
    return [
        {
            "shard": s.shard,
            "head": s.head,
            "groups": {g: {"committed": s.committed.get(g, 0), "lag": s.lag(g)} for g in groups},
        }
        for s in runtime.event_log.status(groups)
    ]


def _counted_by() -> str:
    """Whose requests the counters sum: under ``serve`` every process counts in shared files."""
    if shared_dir() is not None:
        return "by every API process since the supervisor started"
    return "by this process's HTTP API since it started"


@router.get("/v1/status")
def get_status(request: Request) -> Response:
    """Per shard: head offset, each consumer group's committed offset and lag; event counts (of
    every API process since the supervisor started under ``streamrec serve``, else of the
    answering process since it started; and every event the stream ever received, imports
    included); lake; under ``streamrec serve``, every supervised process (``processes``: name,
    role, pid, alive, restarts)."""
    runtime = runtime_of(request)
    body: dict[str, Any] = {
        "shards": stream_json(runtime),
        "events": {
            # What the HTTP API took (imports bypass it) ...
            "accepted": int(_counter_total(request, "streamrec_events_accepted_total")),
            "rejected": int(_counter_total(request, "streamrec_events_rejected_total")),
            "counted": _counted_by(),
            # ... and everything the stream ever received, imports included.
            "in_stream": runtime.events_seen(),
        },
        "lake": runtime.lake_stats(),
        "uptime_s": round(time.time() - runtime.started_at, 3),
        "pid": os.getpid(),  # the API process that answered (one of several under `serve`)
    }
    table = runtime.process_table.read() if runtime.process_table is not None else None
    if table is not None:
        body.update(table)
    return json_response(body)


@router.get(
    "/healthz",
    responses={
        503: {"description": "not ready: a consumer group is dead, failing or falling behind"}
    },
)
def healthz(request: Request) -> Response:
    """Ready (200) unless a consumer group is dead, has been failing, or has processed nothing
    while events wait, for `consumer_stall_s`; then 503 naming the groups and why."""
    return readiness(request)


@router.head("/healthz", include_in_schema=False)
def healthz_head(request: Request) -> Response:
    """HEAD /healthz, as load balancers and uptime checkers send it: GET's status and headers
    (Content-Length included, as HEAD's meaning asks), no body. Left out of the OpenAPI document,
    which describes bodies; it is the same check as GET."""
    answer = readiness(request)
    return Response(status_code=answer.status_code, headers=dict(answer.headers))


def readiness(request: Request) -> Response:
    """/healthz's answer: 200 ``{"status": "ok"}``, or 503 with Retry-After naming the groups."""
    try:
        problems = runtime_of(request).consumer_problems()
    except Exception as exc:  # the stream's status cannot be read: not ready either
        problems = {"stream": f"status cannot be read ({type(exc).__name__}: {exc})"}
    if not problems:
        return json_response({"status": "ok"})
    error = "; ".join(f"consumer group {g!r} {why}" for g, why in sorted(problems.items()))
    body = {"status": "not ready", "error": error, "groups": problems}
    return json_response(body, 503, headers={"Retry-After": "5"})


@router.get("/metrics", response_class=PlainTextResponse)
def metrics(request: Request) -> Response:
    return Response(generate_latest(metrics_of(request).registry), media_type=CONTENT_TYPE_LATEST)
