"""The AWS "Personalize ingestion pipeline" sample's routes, with its request and response shapes,
so clients of the sample switch without changes.

- ``POST /interaction`` ``{"userId", "itemId", "type"="impression", "sessionId"?, "time"?}`` answers
  like Kinesis PutRecord behind API Gateway: ``{"ShardId", "SequenceNumber"}`` (our event id).
  As in the sample, this route needs no tracking id; one that is sent must be right (403 when
  wrong, as on ``POST /v1/events``). Integer ids are taken as text, as
  ``POST /v1/events`` takes them.
- ``GET /history/{userId}?limit=`` -> ``[{"id", "viewed": epoch seconds}]``; limit 1-100, else 10.
- ``GET /recommendation/{userId}?limit=&itemId=`` -> ``[{"id"}]``; limit 1-500, else 25
  (Personalize's numResults default and maximum); an ``itemId`` known nowhere is a 404, as for
  ``/v1/items/{item_id}/similar``.

Only ``limit`` is lenient, as in the sample; ids are checked as on the /v1 routes: a ``userId``
or ``itemId`` that is empty or longer than MAX_ID_LENGTH is a 400 naming it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from streamrec.api.auth import check_origin, check_tracking_id_if_given
from streamrec.api.body import read_json
from streamrec.api.offload import off_loop_when_blocking
from streamrec.api.openapi import (
    AUTH_ERRORS,
    RATE_LIMITED,
    query_parameter,
    query_parameters,
    request_body,
)
from streamrec.api.ratelimit import check_rate
from streamrec.api.responses import json_response
from streamrec.api.routes.events import append_events
from streamrec.api.routes.history import history_store
from streamrec.api.schemas import Interaction, check_body
from streamrec.api.state import metrics_of, runtime_of
from streamrec.errors import ValidationError
from streamrec.events import MAX_ID_LENGTH, Event, validate_event
from streamrec.stream import shard_for

router = APIRouter(tags=["aws-sample"])

HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX = 10, 100
RECOMMENDATION_LIMIT_DEFAULT, RECOMMENDATION_LIMIT_MAX = 25, 500


def bounded_limit(raw: str | None, default: int, maximum: int) -> int:
    """The sample's rule: a limit that is missing, not a number or out of bounds is the default."""
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if 1 <= value <= maximum else default


# The sample's field names and the event fields they are.
FIELDS = {
    "userId": "user_id",
    "itemId": "item_id",
    "type": "event_type",
    "sessionId": "session_id",
    "time": "timestamp",
}
SAMPLE_NAMES = {event_field: name for name, event_field in FIELDS.items()}
_BY_LOWER_NAME = {name.lower(): name for name in FIELDS}


def interaction_to_event(body: object) -> dict[str, object]:
    """The sample's body as an event object; an unknown key is a 400 naming the key as sent,
    with the sample's name for it where it looks like one (``user_id``: did you mean userId?)."""
    if not isinstance(body, dict):
        raise ValidationError("body", "must be a JSON object")
    unknown = set(body) - set(FIELDS)
    if unknown:
        key = sorted(unknown)[0]
        meant = SAMPLE_NAMES.get(key) or _BY_LOWER_NAME.get(str(key).replace("_", "").lower())
        hint = f" (did you mean {meant}?)" if meant else ""
        raise ValidationError(key, f"is not an interaction field{hint}")
    event = {FIELDS[k]: v for k, v in body.items()}
    event.setdefault("event_type", "impression")
    return event


def checked_interaction(raw: object) -> Event:
    """The interaction as a validated Event; errors name the sample's fields. Integer ids are
    taken as text, as POST /v1/events does (validate_event); the Interaction schema says so."""
    fields = interaction_to_event(raw)  # names the unknown key as sent
    try:
        event = validate_event(fields)
        check_body(raw, Interaction)
    except ValidationError as exc:
        raise ValidationError(SAMPLE_NAMES.get(exc.field, exc.field), exc.message) from exc
    return event


@router.post(
    "/interaction",
    openapi_extra=request_body("Interaction"),
    responses={**AUTH_ERRORS, **RATE_LIMITED},
)
async def post_interaction(request: Request) -> Response:
    settings = runtime_of(request).settings
    check_tracking_id_if_given(request, settings.tracking_id)
    check_origin(request, settings.allowed_origins)
    check_rate(request, settings, request.app.state.event_rate)
    raw = await read_json(request)
    try:
        event = checked_interaction(raw)
    except ValidationError:
        metrics_of(request).events_rejected.inc()  # as /v1/events counts a refused event
        raise
    await append_events(request, [event])
    shard = shard_for(event.user_id, runtime_of(request).event_log.shard_count)
    return json_response({"ShardId": f"shardId-{shard:012d}", "SequenceNumber": event.event_id})


def limit_parameter(default: int, maximum: int) -> dict[str, Any]:
    """``limit`` for the OpenAPI document (the routes read it with bounded_limit). Declared as
    text, not an integer from 1 to ``maximum``: the sample's lenient rule takes any text, so a
    schema refusing ``abc`` or ``0`` would describe a 400 the route never gives."""
    return query_parameter(
        "limit",
        f"How many, 1-{maximum}; missing, not a number or out of bounds: {default} (the AWS "
        "sample's rule).",
        {"type": "string", "examples": [str(default)]},
    )


def _user_id() -> Any:
    """A fresh Path parameter per route (FastAPI records the name on the object it is given):
    the /v1 routes' id limits."""
    return Path(min_length=1, max_length=MAX_ID_LENGTH)


@router.get(
    "/history/{userId:path}",
    openapi_extra=query_parameters(limit_parameter(HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX)),
)
async def get_history(request: Request, userId: str = _user_id()) -> Response:
    limit = bounded_limit(
        request.query_params.get("limit"), HISTORY_LIMIT_DEFAULT, HISTORY_LIMIT_MAX
    )
    entries = await off_loop_when_blocking(request, history_store(request).recent, userId, limit)
    return json_response([{"id": e.item_id, "viewed": int(e.last_seen)} for e in entries])


@router.get(
    "/recommendation/{userId:path}",
    openapi_extra=query_parameters(
        limit_parameter(RECOMMENDATION_LIMIT_DEFAULT, RECOMMENDATION_LIMIT_MAX)
    ),
)
async def get_recommendation(
    request: Request,
    userId: str = _user_id(),
    itemId: str | None = Query(None, max_length=MAX_ID_LENGTH),
) -> Response:
    limit = bounded_limit(
        request.query_params.get("limit"), RECOMMENDATION_LIMIT_DEFAULT, RECOMMENDATION_LIMIT_MAX
    )
    item_id = itemId or None
    runtime = runtime_of(request)
    service = runtime.recommendations
    result = await off_loop_when_blocking(request, service.for_aws_sample, userId, limit, item_id)
    runtime.recorder.record("aws-recommendation", result, userId, anchor_item=item_id)
    return json_response([{"id": i} for i, _ in result.items])
