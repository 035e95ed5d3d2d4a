"""Paths whose percent-encoding is not UTF-8 are a 400 naming the path parameter, before routing.

Servers percent-decode the request path with ``errors="replace"`` (uvicorn, Starlette's test
client), so ``/v1/users/%ff/history`` and ``/v1/users/%fe/history`` would both reach the route as
the user ``"\\ufffd"``: different invalid ids would be one user. The check costs one substring test
per request (the decoded path holds U+FFFD); only then is the raw path decoded strictly, which
tells a replaced byte from a U+FFFD the client encoded as UTF-8 (``%EF%BF%BD``, accepted).
"""

from __future__ import annotations

import re
from urllib.parse import unquote_to_bytes

from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from streamrec.api.errors import template_regex
from streamrec.api.responses import error_response

REPLACEMENT = "\ufffd"
MESSAGE = "is not valid UTF-8 percent-encoding"


class PathEncodingCheck:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and REPLACEMENT in scope["path"] and not _valid_raw(scope):
            response = error_response(400, MESSAGE, invalid_parameter(scope))
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)


def _valid_raw(scope: Scope) -> bool:
    raw = scope.get("raw_path")
    if not isinstance(raw, bytes):
        return True  # nothing to tell a replaced byte from an encoded U+FFFD: as decoded
    try:
        unquote_to_bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def invalid_parameter(scope: Scope) -> str:
    """The name of the path parameter holding the replaced bytes, in the first path of the OpenAPI
    document that matches (``user_id``, ``item_id``, ``userId``), else ``path``. Only for a path
    being refused: it matches every documented path (as errors.allowed_methods does)."""
    app = scope.get("app")
    if not isinstance(app, FastAPI):
        return "path"
    for template in app.openapi().get("paths", {}):
        found = re.fullmatch(template_regex(template, capture=True), scope["path"])
        for name, value in (found.groupdict() if found else {}).items():
            if REPLACEMENT in value:
                return name
    return "path"
