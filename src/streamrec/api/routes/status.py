"""GET /v1/status, /healthz and /metrics."""

from __future__ import annotations

import os
import time
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.responses import Response

from streamrec.api.responses import json_response
from streamrec.api.state import metrics_of, runtime_of
from streamrec.runtime import Runtime

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


@router.get("/v1/status")
def get_status(request: Request) -> Response:
    """Per shard: head offset, each consumer group's committed offset and lag; event counts
    and uptime
    (this process's); lake; under ``streamrec serve``, every supervised process (``processes``:
    name, role, pid, alive, restarts)."""
    runtime = runtime_of(request)
    body: dict[str, Any] = {
        "shards": stream_json(runtime),
        "events": {
            "accepted": int(_counter_total(request, "streamrec_events_accepted_total")),
            "rejected": int(_counter_total(request, "streamrec_events_rejected_total")),
        },
        "lake": runtime.lake_stats(),
        "uptime_s": round(time.time() - runtime.started_at, 3),
        "pid": os.getpid(),  # the API process that answered (one of several under `serve`)
    }
    table = runtime.process_table.read() if runtime.process_table is not None else None
    if table is not None:
        body.update(table)
    return json_response(body)


@router.get("/healthz")
def healthz() -> Response:
    return json_response({"status": "ok"})


@router.get("/metrics")
def metrics(request: Request) -> Response:
    return Response(generate_latest(metrics_of(request).registry), media_type=CONTENT_TYPE_LATEST)
