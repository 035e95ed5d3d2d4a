"""The one place where streamrec's exception tree becomes HTTP status codes and JSON bodies."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from streamrec.api.responses import error_response
from streamrec.errors import (
    AuthError,
    ConfigError,
    ModelError,
    NotFoundError,
    RateLimitedError,
    StreamrecError,
    UnavailableError,
    ValidationError,
)
from streamrec.serving.named import WINDOW_PATTERN

log = logging.getLogger(__name__)


class BodyError(StreamrecError):
    """A request body that cannot be read: malformed JSON (400), wrong type (415), too big (413)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _status_for(exc: StreamrecError) -> int:
    if isinstance(exc, ValidationError | ConfigError):
        return 400
    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, BodyError):
        return exc.status
    if isinstance(exc, UnavailableError):
        return 503
    if isinstance(exc, ModelError):
        return 409
    if isinstance(exc, RateLimitedError):
        return 429
    return 500


async def _streamrec_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StreamrecError)
    status = _status_for(exc)
    field = getattr(exc, "field", None) or getattr(exc, "key", None)
    message = exc.message if isinstance(exc, ValidationError) else str(exc)
    headers = None
    if isinstance(exc, UnavailableError | RateLimitedError):
        headers = {"Retry-After": str(exc.retry_after_s)}
    if status == 401:
        headers = {"WWW-Authenticate": "Bearer"}
    return error_response(status, message, field, headers)


async def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"loc": ("request",), "msg": "invalid"}
    loc = [str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body", "header")]
    field = ".".join(loc) or "request"
    return error_response(400, f"{field}: {phrased(first)}", field)


# pydantic's error types of query, path and header parameters, said as the project's own
# messages say it ("must be ..., got ..."), not "Input should be greater than or equal to 1"
_PHRASES = {
    "missing": "is required",
    "greater_than_equal": "must be at least {ge}, got {input}",
    "greater_than": "must be more than {gt}, got {input}",
    "less_than_equal": "must be at most {le}, got {input}",
    "less_than": "must be less than {lt}, got {input}",
    "int_parsing": "must be a whole number, got {input!r}",
    "int_from_float": "must be a whole number, got {input!r}",
    "float_parsing": "must be a number, got {input!r}",
    "bool_parsing": "must be true or false, got {input!r}",
    "string_too_short": "must be at least {min_length} characters",
    "string_too_long": "must be at most {max_length} characters",
    "string_pattern_mismatch": "must match {pattern}, got {input!r}",
}
# patterns said in words where a parameter has one
_PATTERN_WORDS = {WINDOW_PATTERN: "must be a number of hours or days, like 24h or 7d"}


def phrased(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error, in the project's words where its type is known."""
    kind, ctx = str(error.get("type")), error.get("ctx") or {}
    if kind == "string_pattern_mismatch" and ctx.get("pattern") in _PATTERN_WORDS:
        return f"{_PATTERN_WORDS[ctx['pattern']]}, got {error.get('input')!r}"
    phrase = _PHRASES.get(kind)
    if phrase is None:
        return str(error.get("msg", "invalid"))
    try:
        return phrase.format(input=error.get("input"), **ctx)
    except (KeyError, IndexError):  # a context pydantic did not give: its own words then
        return str(error.get("msg", "invalid"))


def allowed_methods(request: Request) -> str:
    """The methods the OpenAPI document lists for this path (Starlette's 405 names the methods of
    the first route that matched the path only, not of every route sharing it)."""
    methods: set[str] = set()
    for template, operations in request.app.openapi().get("paths", {}).items():
        if re.fullmatch(template_regex(template), request.url.path):
            methods |= {method.upper() for method in operations}
    return ", ".join(sorted(methods))


def template_regex(template: str, capture: bool = False) -> str:
    """An OpenAPI path as a regex: ``/v1/items/{item_id}`` -> ``/v1/items/[^/]+``; with
    ``capture``, each parameter a named group of any characters, ``/`` included, as the routes'
    ``path`` parameters take them: ``/v1/items/(?P<item_id>.*)``."""
    parts = re.split(r"\{([^}]+)\}", template)
    return "".join(
        (f"(?P<{part}>.*)" if capture else "[^/]+") if k % 2 else re.escape(part)
        for k, part in enumerate(parts)
    )


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 405:
        headers["Allow"] = allowed_methods(request)
    return error_response(exc.status_code, str(exc.detail), headers=headers or None)


async def _unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unexpected error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; the server log has the details")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(StreamrecError, _streamrec_error)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(HTTPException, _http_exception)
    app.add_exception_handler(Exception, _unexpected)


async def method_not_allowed() -> Response:
    """For a sub-path of a ``{id:path}`` route that would otherwise reach the parent's handler
    (``DELETE /v1/users/alice/history`` is not the erasure of user "alice/history"): a 405 whose
    ``Allow`` lists what the OpenAPI document offers there."""
    raise HTTPException(405)
