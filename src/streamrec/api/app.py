"""The FastAPI application factory: routers, error handlers, metrics, CORS."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from streamrec import __version__
from streamrec.api.errors import install_error_handlers
from streamrec.api.metrics import Metrics, MetricsMiddleware
from streamrec.api.openapi import install_openapi
from streamrec.api.paths import PathEncodingCheck
from streamrec.api.ratelimit import buckets_for
from streamrec.api.routes import (
    aliases,
    attribution,
    aws,
    dashboard,
    docs,
    events,
    experiments,
    history,
    items,
    merchandising,
    models,
    promotions,
    recommendations,
    status,
    web,
)
from streamrec.runtime import Runtime

DESCRIPTION = """Self-hosted real-time personalization: send interactions to `POST /v1/events`,
read history, recommendations, similar, popular and trending items. Errors are JSON bodies
`{"error": "...", "field": "..."}` with a 4xx status; 503 carries Retry-After."""

# Routers are matched in this order, a regex per route: the two hot routes' routers come first.
# No route's path is shadowed by an earlier router's (tests/api/test_app.py); `similar` comes
# before `items` on purpose, as /v1/items/{item_id:path} would match /v1/items/X/similar.
ROUTE_MODULES = (
    recommendations,
    events,
    aliases,
    history,
    status,
    aws,
    dashboard,
    models,
    web,
    docs,
    attribution,
    experiments,
    merchandising,
    items,
    promotions,
)


def create_app(runtime: Runtime) -> FastAPI:
    app = FastAPI(
        title="streamrec",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by routes.docs from installed assets, not a CDN
        redoc_url=None,
    )
    metrics = Metrics()
    metrics.watch_stream(runtime.event_log, runtime.enabled_groups())
    metrics.watch_consumers(runtime.runners)
    if runtime.settings.record_recommendations:
        metrics.watch_attribution(lambda: runtime.attribution)
    app.state.runtime = runtime
    app.state.metrics = metrics
    app.state.event_rate = buckets_for(runtime.settings)
    app.state.erasures = runtime.erasures
    app.state.erasures.resume()  # jobs a stopped process left unfinished
    install_error_handlers(app)
    install_openapi(app)
    for module in ROUTE_MODULES:
        app.include_router(module.router)
    app.add_middleware(PathEncodingCheck)  # innermost: its 400s get CORS headers, are counted
    if runtime.settings.allowed_origins:
        # Browsers on these origins may post events (tracker.js) and read recommendations.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(runtime.settings.allowed_origins),
            allow_methods=["GET", "POST"],
            allow_headers=["Content-Type", "X-Tracking-Id"],
            max_age=600,
        )
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app
