"""``/docs`` (Swagger UI) and ``/redoc`` served from assets installed with the package.

FastAPI's own pages load Swagger UI and ReDoc from a CDN, so a self-hosted install without one
(an intranet, an air-gapped host) showed a blank page. The assets come from the ``fastapi-offline``
package (Swagger UI: Apache 2.0; ReDoc: MIT; their licences ship in its distribution), served under
``/docs/assets/``; only FastAPI's HTML helpers are used, pointed at them.
"""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import APIRouter, HTTPException, Request
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import FileResponse, HTMLResponse

router = APIRouter(include_in_schema=False)

ASSETS = Path(str(files("fastapi_offline") / "static"))
ASSET_URL = "/docs/assets"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
                ".png": "image/png"}  # fmt: skip


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
def asset(name: str) -> FileResponse:
    media_type = _MEDIA_TYPES.get(Path(name).suffix)
    path = ASSETS / name
    if media_type is None or "/" in name or not path.is_file():
        raise HTTPException(status_code=404, detail=f"no such file: {name}")
    return FileResponse(
        path, media_type=media_type, headers={"Cache-Control": "public, max-age=86400"}
    )
