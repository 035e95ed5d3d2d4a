"""POST /v1/users/{user_id}/aliases: tie an anonymous id to a signed-in user (streamrec.aliases)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from streamrec.aliases import alias_event
from streamrec.api.auth import check_origin, check_tracking_id
from streamrec.api.body import read_json
from streamrec.api.errors import method_not_allowed
from streamrec.api.openapi import AUTH_ERRORS, RATE_LIMITED, request_body, response_of
from streamrec.api.ratelimit import check_rate
from streamrec.api.responses import json_response
from streamrec.api.routes.events import append_events
from streamrec.api.schemas import AliasIn, decode_body
from streamrec.api.state import runtime_of
from streamrec.errors import ValidationError
from streamrec.events import MAX_ID_LENGTH, id_text

router = APIRouter(tags=["events"])

ALIASES_PATH = "/v1/users/{user_id:path}/aliases"


@router.post(
    ALIASES_PATH,
    status_code=202,
    openapi_extra=request_body("AliasIn"),
    responses={
        202: response_of("AliasAccepted", "The alias is durable in the stream"),
        **AUTH_ERRORS,
        **RATE_LIMITED,
    },
)
async def post_alias(
    request: Request, user_id: str = Path(min_length=1, max_length=MAX_ID_LENGTH)
) -> Response:
    """The visitor known by ``anonymous_id`` (tracker.js's anonymous id) is ``user_id`` from now
    on (the tracking id authorises it, as for events): from the next request, the user's history,
    real-time state and recommendations include the anonymous id's events, and its later events
    count for the user. The alias goes through the stream like an event; a 202 means it is
    durable there. Erasing the user erases the anonymous id's events too. An integer
    ``anonymous_id`` is taken as its text, as event ids are."""
    settings = runtime_of(request).settings
    check_tracking_id(request, settings.tracking_id)
    check_origin(request, settings.allowed_origins)
    check_rate(request, settings, request.app.state.event_rate)
    body = decode_body(await read_json(request), AliasIn)
    anonymous_id = id_text("anonymous_id", body.anonymous_id)
    if anonymous_id == user_id:
        raise ValidationError("anonymous_id", "must differ from the user id")
    event = alias_event(anonymous_id, user_id, time.time())
    await append_events(request, [event])
    answer = {"user_id": user_id, "anonymous_id": anonymous_id, "event_id": event.event_id}
    return json_response(answer, 202)


# DELETE /v1/users/alice/aliases is not the erasure of user "alice/aliases"
router.add_api_route(ALIASES_PATH, method_not_allowed, methods=["DELETE"], include_in_schema=False)
