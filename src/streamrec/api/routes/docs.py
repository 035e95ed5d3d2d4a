"""``/docs`` (Swagger UI) and ``/redoc`` served from assets installed with the package.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so a self-hosted install without one
(an intranet, an air-gapped host) showed a blank page. The assets come from the ``fastapi-offline``
package (Swagger UI: Apache 2.0; ReDoc: MIT; their licences ship in its distribution), served under
``/docs/assets/``; only FastAPI's HTML helpers are used, pointed at them. ReDoc's "powered by"
footer loads its logo from cdn.redoc.ly, one failed request (and a console error) offline: the
served copy of its script points that image at an inline, empty SVG instead.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse, Response

router = APIRouter(include_in_schema=False)

ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSET_URL = "/docs/assets"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png"}  # fmt: skip


_REDOC = "redoc.standalone.js"
_REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"
_EMPTY_SVG = "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' width='1' height='1'/%3E"
_CACHED = {"Cache-Control": "public, max-age=86400"}


@cache
def _offline_redoc() -> bytes:
    """ReDoc's script with its one outside URL (the footer logo) replaced by an inline image."""
    return (ASSETS / _REDOC).read_text(encoding="utf-8").replace(_REDOC_LOGO, _EMPTY_SVG).encode()


def _title(request: Request) -> str:
    return str(getattr(request.app, "title", "streamrec"))


@router.get("/docs")
def swagger_ui(request: Request) -> HTMLResponse:
    """The OpenAPI document in Swagger UI, with every asset from this server."""
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{_title(request)} - Swagger UI",
        swagger_js_url=f"{root}{ASSET_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSET_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSET_URL}/favicon.png",
    )


@router.get("/redoc")
def redoc(request: Request) -> HTMLResponse:
    """The OpenAPI document in ReDoc (no web fonts: it falls back to the system's)."""
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}/openapi.json",
        title=f"{_title(request)} - ReDoc",
        redoc_js_url=f"{root}{ASSET_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSET_URL}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSET_URL + "/{name}")
def asset(name: str) -> Response:
    if name == _REDOC:
        return Response(_offline_redoc(), media_type=_MEDIA_TYPES[".js"], headers=_CACHED)
    media_type = _MEDIA_TYPES.get(Path(name).suffix)
    path = ASSETS / name
    if media_type is None or "/" in name or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no such file: {name}")
    return FileResponse(path, media_type=media_type, headers=_CACHED)
