"""Reading JSON request bodies with the limits every write route shares."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request

from streamrec.api.errors import BodyError
from streamrec.events import MAX_BODY_BYTES

# text/plain is accepted because navigator.sendBeacon can only send CORS-safelisted types.
JSON_TYPES = ("application/json", "text/plain")


async def read_json(request: Request, max_bytes: int = MAX_BODY_BYTES) -> Any:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type not in JSON_TYPES:
        raise BodyError(
            415, f"content-type must be application/json, got {content_type or 'none'!r}"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > max_bytes:
        raise BodyError(413, f"body is larger than {max_bytes} bytes")
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > max_bytes:
            raise BodyError(413, f"body is larger than {max_bytes} bytes")
        chunks.append(chunk)
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise BodyError(400, f"malformed JSON: {exc}") from exc
