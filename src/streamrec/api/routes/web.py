"""Routes for browsers: the index at ``/``, the tracker script, the demo shop, the dashboard page
and their assets.

The files are static (``streamrec/web/static``); only the demo's HTML is filled in with the server's
tracking id, since the demo is served by the same server it sends events to. The dashboard's page
is public on purpose: it holds no data, and every call it makes needs the admin key
(see ``dashboard.py``).
"""

from __future__ import annotations

import html
from functools import lru_cache
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, Response

from streamrec.api.responses import json_response
from streamrec.web import STATIC_DIR

router = APIRouter(include_in_schema=False)

TRACKING_ID_PLACEHOLDER = "__STREAMREC_TRACKING_ID__"
_TEXT_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".txt": "text/plain; charset=utf-8",
}
# Short cache: the files change only with a new release, but a stale tracker must not linger.
_ASSET_CACHE = "public, max-age=300"


def _tracking_id(request: Request) -> str:
    runtime = getattr(request.app.state, "runtime", None)
    settings = getattr(runtime, "settings", None)
    value = getattr(settings, "tracking_id", None)
    return value if isinstance(value, str) else ""


@lru_cache(maxsize=8)
def _read_text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def static_file(relative: str) -> Path:
    """The file under the static folder, refusing anything that would escape it (``..``, links)."""
    path = (STATIC_DIR / relative).resolve()
    if not path.is_relative_to(STATIC_DIR) or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no such file: {relative}")
    return path


def _file(relative: str) -> FileResponse:
    path = static_file(relative)
    media_type = _TEXT_TYPES.get(path.suffix)
    return FileResponse(path, media_type=media_type, headers={"Cache-Control": _ASSET_CACHE})


@router.get("/tracker.js")
def tracker_js() -> FileResponse:
    """The tracking snippet a site includes with one script tag."""
    return _file("tracker.js")


@router.get("/static/{relative:path}")
def static_asset(relative: str) -> FileResponse:
    """CSS, scripts and the vendored chart library of the demo and the dashboard."""
    return _file(relative)


def _demo_page(request: Request) -> HTMLResponse:
    page = _read_text(static_file("demo/index.html"))
    page = page.replace(TRACKING_ID_PLACEHOLDER, html.escape(_tracking_id(request), quote=True))
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})


# What someone opening the base URL that `streamrec serve` prints may want next.
INDEX_LINKS = {
    "docs": "/docs",
    "openapi": "/openapi.json",
    "demo": "/demo",
    "dashboard": "/dashboard",
    "healthz": "/healthz",
    "status": "/v1/status",
}


@router.get("/")
async def index(request: Request) -> Response:
    """A small JSON index instead of a 404: the service, its version and where to go from here
    (links under the proxy prefix, ``root_path``, when there is one). JSON rather than a page:
    the API's answers are JSON, and a browser shows it readably."""
    root = request.scope.get("root_path", "")
    return json_response(
        {
            "service": str(getattr(request.app, "title", "streamrec")),
            "version": str(getattr(request.app, "version", "")),
            "links": {name: f"{root}{path}" for name, path in INDEX_LINKS.items()},
        }
    )


@router.get("/favicon.ico")
async def favicon() -> Response:
    """No icon (204): a browser asks for one on every JSON page it opens (``/``, ``/v1/...``),
    and 404s for it filled the dashboard's route latency with an "unmatched" row."""
    return Response(status_code=204)


@router.get("/demo")
def demo_home(request: Request) -> HTMLResponse:
    """The demo shop (a single page; item pages are client-side routes of the same document)."""
    return _demo_page(request)


@router.get("/demo/item/{item_id:path}")
def demo_item(request: Request, item_id: str) -> HTMLResponse:
    """Deep link to an item page: the same document, which reads the item id from its URL."""
    return _demo_page(request)


@router.get("/dashboard")
def dashboard_page() -> Response:
    """The operator dashboard's page: public, data-free; its data calls need the admin key."""
    page = _read_text(static_file("dashboard/index.html"))
    return HTMLResponse(page, headers={"Cache-Control": "no-cache"})
