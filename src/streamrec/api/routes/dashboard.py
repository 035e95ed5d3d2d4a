"""Admin JSON for the operator dashboard: one snapshot route and one user lookup, both admin-only.

The snapshot gathers what the public routes spread over several calls (stream heads and lags, lake,
popular items) plus what only the metrics registry knows (events accepted by type, per-route
latency histograms), so the dashboard polls one URL. Counters are cumulative: the page derives
rates from successive snapshots, so the server keeps no per-viewer state. Route latency quantiles
are interpolated inside the Prometheus histogram buckets (as PromQL's histogram_quantile does), over
everything since the server started.
"""

from __future__ import annotations

import math
import time
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from fastapi import APIRouter, Path, Query, Request
from prometheus_client import CollectorRegistry
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.responses import json_response
from streamrec.api.state import metrics_of, runtime_of
from streamrec.runtime import Runtime

router = APIRouter(tags=["admin"])

LATENCY_METRIC = "streamrec_http_request_duration_seconds"
# Routes that only serve files to browsers would crowd out the API routes in the latency table.
_FILE_ROUTES = ("/static/", "/tracker.js", "/demo", "/dashboard")


def _samples(registry: CollectorRegistry, name: str) -> Iterable[tuple[str, dict[str, str], float]]:
    for metric in registry.collect():
        for sample in metric.samples:
            if sample.name.startswith(name):
                yield sample.name, sample.labels, sample.value


def events_by_type(registry: CollectorRegistry) -> dict[str, int]:
    """Events acknowledged since start, per event type."""
    counts: dict[str, int] = {}
    for name, labels, value in _samples(registry, "streamrec_events_accepted_total"):
        if name == "streamrec_events_accepted_total":
            counts[labels.get("event_type", "")] = int(value)
    return counts


def _counter(registry: CollectorRegistry, name: str) -> int:
    return int(sum(v for n, _, v in _samples(registry, name) if n == name))


def bucket_quantile(q: float, buckets: Sequence[tuple[float, float]]) -> float | None:
    """The q-quantile from cumulative (upper bound, count) buckets, linear inside a bucket.

    None without observations. Observations in the +Inf bucket answer the largest finite bound,
    as Prometheus does, since nothing is known beyond it."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return None
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for bound, count in ordered:
        if count >= rank:
            if math.isinf(bound):
                return lower
            inside = count - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 0.0)
        lower, below = bound, count
    return lower


def route_latencies(registry: CollectorRegistry) -> list[dict[str, Any]]:
    """Per (method, route): requests and p50/p99 latency in milliseconds, busiest first."""
    buckets: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
    for name, labels, value in _samples(registry, LATENCY_METRIC):
        if name == LATENCY_METRIC + "_bucket":
            key = (labels.get("method", ""), labels.get("route", ""))
            buckets[key].append((float(labels["le"]), value))
    rows = []
    for (method, route), series in buckets.items():
        if route.startswith(_FILE_ROUTES):
            continue
        p50, p99 = bucket_quantile(0.5, series), bucket_quantile(0.99, series)
        rows.append(
            {
                "route": f"{method} {route}",
                "count": int(max(c for _, c in series)),
                "p50_ms": None if p50 is None else round(p50 * 1000, 3),
                "p99_ms": None if p99 is None else round(p99 * 1000, 3),
            }
        )
    return sorted(rows, key=lambda r: (-r["count"], r["route"]))


def consumer_lag(runtime: Runtime) -> list[dict[str, Any]]:
    """One row per (group, shard): head, committed offset, lag."""
    groups = runtime.enabled_groups()
    return [
        {
            "group": g,
            "shard": s.shard,
            "head": s.head,
            "committed": s.committed.get(g, 0),
            "lag": s.lag(g),
        }
        for s in runtime.event_log.status(groups)
        for g in groups
    ]


def lake_summary(runtime: Runtime) -> dict[str, Any]:
    """Lake files/rows/bytes; an unreadable lake must not blank the rest of the dashboard."""
    try:
        return runtime.lake_stats()
    except Exception as exc:  # any backend failure: show it in the tile, keep the page alive
        return {"enabled": runtime.settings.datalake, "error": f"{type(exc).__name__}: {exc}"}


def ranked_items(runtime: Runtime, which: str, n: int) -> list[dict[str, Any]]:
    """Popular or trending items with their catalogue metadata (as GET /v1/popular answers)."""
    service = runtime.recommendations
    result = service.popular_items(n) if which == "popular" else service.trending_items(n)
    return service.decorate(result)


def model_versions(runtime: Runtime) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(every version with its offline metrics and the campaigns it serves, what serves now)."""
    registry = runtime.models
    campaigns = registry.campaigns()
    serving_version = campaigns.get(runtime.settings.campaign)
    rows = []
    for meta in registry.list_versions():
        version = str(meta.get("version"))
        metrics = meta.get("metrics")
        rows.append(
            {
                "version": version,
                "recipe": meta.get("recipe"),
                "created_at": meta.get("created_at"),
                "metrics": metrics if isinstance(metrics, dict) else {},
                "campaigns": sorted(c for c, v in campaigns.items() if v == version),
                "error": meta.get("error"),
            }
        )
    recipe = next((r["recipe"] for r in rows if r["version"] == serving_version), None)
    serving = {
        "campaign": runtime.settings.campaign,
        "version": serving_version,
        "recipe": recipe or "popularity",
    }
    return rows, serving


def snapshot(request: Request, n: int) -> dict[str, Any]:
    runtime = runtime_of(request)
    registry = metrics_of(request).registry
    models, serving = model_versions(runtime)
    return {
        "time": time.time(),
        "uptime_s": round(time.time() - runtime.started_at, 3),
        "events": {
            "accepted_by_type": events_by_type(registry),
            "accepted_total": _counter(registry, "streamrec_events_accepted_total"),
            "rejected_total": _counter(registry, "streamrec_events_rejected_total"),
        },
        "lag": consumer_lag(runtime),
        "lake": lake_summary(runtime),
        "routes": route_latencies(registry),
        "popular": ranked_items(runtime, "popular", n),
        "trending": ranked_items(runtime, "trending", n),
        "models": models,
        "serving": serving,
    }


@router.get("/v1/admin/dashboard")
def get_dashboard(request: Request, n: int = Query(10, ge=1, le=100)) -> Response:
    """Everything the operator dashboard shows, in one admin-only snapshot."""
    check_admin(request, runtime_of(request).settings.admin_key)
    return json_response(snapshot(request, n))


@router.get("/v1/admin/dashboard/users/{user_id:path}")
def get_dashboard_user(
    request: Request,
    user_id: str = Path(min_length=1, max_length=256),
    n: int = Query(10, ge=1, le=100),
) -> Response:
    """One user's history and recommendations, for the dashboard's search box (admin-only)."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    history = runtime.history.recent(user_id, n, None) if runtime.history is not None else []
    service = runtime.recommendations
    recommended = service.recommend(user_id, n)
    return json_response(
        {
            "user_id": user_id,
            "history": {
                "items": [
                    {
                        "item_id": e.item_id,
                        "event_type": e.event_type,
                        "last_seen": e.last_seen,
                        "count": e.count,
                    }
                    for e in history
                ]
            },
            "recommendations": {
                "model": recommended.model_json(),
                "recommendation_id": recommended.recommendation_id,
                "items": service.decorate(recommended),
            },
        }
    )
