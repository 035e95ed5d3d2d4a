"""The OpenAPI document, built from the routes and the body Structs of ``streamrec.api.schemas``.

FastAPI describes paths and query parameters; the bodies are parsed by hand on the hot path, so
their schemas come from the Structs (the same ones the routes check bodies against). Every operation
documents the error answers it can give, all with the ``ErrorBody`` shape; FastAPI's 422 is never
sent (validation errors are 400) and is left out.
"""

from __future__ import annotations

from typing import Any

import msgspec
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from streamrec.api.schemas import REQUEST_BODIES, RESPONSE_BODIES

_REF = "#/components/schemas/{name}"

# Every operation may answer these.
COMMON_ERRORS = {
    400: "Invalid input; the body names the field",
    404: "Not found (an unknown user, item, job or model version; or the feature is off)",
    503: "Overloaded or a backend is down; retry after Retry-After seconds",
}
# Operations that read a body, or need a tracking id / admin key, may also answer these.
BODY_ERRORS = {
    413: "The body is larger than the route's limit",
    415: "Content-Type is not application/json (text/plain is accepted for sendBeacon)",
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {
    401: {
        "description": "Credentials missing (X-Tracking-Id, or Authorization: Bearer <admin key>)"
    },
    403: {"description": "Credentials wrong, or the browser's Origin is not allowed"},
}
RATE_LIMITED: dict[int | str, dict[str, Any]] = {
    429: {"description": "Too many requests from this client; retry after Retry-After seconds"},
}


def request_body(*names: str) -> dict[str, Any]:
    """``openapi_extra`` declaring a required JSON body: one of the named Structs."""
    refs = [{"$ref": _REF.format(name=n)} for n in names]
    schema = refs[0] if len(refs) == 1 else {"oneOf": refs}
    content = {"application/json": {"schema": schema}}
    return {"requestBody": {"required": True, "content": content}}


def response_of(name: str, description: str) -> dict[str, Any]:
    schema = {"$ref": _REF.format(name=name)}
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def query_parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` listing query parameters a route reads from ``request.query_params``
    itself (FastAPI lists only those of the function's signature); appended to those."""
    return {"parameters": list(parameters)}


def query_parameter(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    """An optional query parameter of the OpenAPI document."""
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def _error_response(description: str) -> dict[str, Any]:
    return response_of("ErrorBody", description)


def _document_errors(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    responses.pop("422", None)
    errors = dict(COMMON_ERRORS)
    if "requestBody" in operation:
        errors.update(BODY_ERRORS)
    for status, description in errors.items():
        responses.setdefault(str(status), _error_response(description))
    for code, response in responses.items():
        if str(code)[0] in "45" and "content" not in response:
            response.update(_error_response(response.get("description", "")))


def build_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    named = {**REQUEST_BODIES, **RESPONSE_BODIES}
    inline, components = msgspec.json.schema_components(named.values(), ref_template=_REF)
    for name, body in zip(named, inline, strict=True):
        if "$ref" not in body:  # not a Struct (a list of items): name it here
            components[name] = body
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for unused in ("HTTPValidationError", "ValidationError"):
        schemas.pop(unused, None)
    schemas.update(components)
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            _document_errors(operation)
    return schema


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
