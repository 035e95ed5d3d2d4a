"""POST /v1/events: validate, append durably to the stream, acknowledge with 202."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Sequence
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from streamrec.api.auth import check_origin, check_tracking_id
from streamrec.api.body import read_json
from streamrec.api.openapi import AUTH_ERRORS, RATE_LIMITED, request_body, response_of
from streamrec.api.ratelimit import check_rate
from streamrec.api.responses import json_response
from streamrec.api.state import metrics_of, runtime_of
from streamrec.errors import StreamUnavailable, ValidationError
from streamrec.events import MAX_EVENTS_PER_REQUEST, Event, validate_batch, validate_event

router = APIRouter(tags=["events"])


def split_body(body: Any) -> tuple[list[Any], bool]:
    """(raw events, whether the body was a single event)."""
    if isinstance(body, dict) and "events" in body:
        unknown = sorted(set(body) - {"events"})
        if unknown:
            raise ValidationError(unknown[0], "is not a field of a batch (only events)")
        events = body["events"]
        if not isinstance(events, list):
            raise ValidationError("events", "must be a list of event objects")
        if not events:
            raise ValidationError("events", "must not be empty")
        if len(events) > MAX_EVENTS_PER_REQUEST:
            raise ValidationError(
                "events", f"at most {MAX_EVENTS_PER_REQUEST} events a request, got {len(events)}"
            )
        return events, False
    return [body], True


async def append_events(request: Request, events: Sequence[Event]) -> None:
    """Wait until the events are durable in the stream (group commit with concurrent requests),
    at most `append_timeout_s`: then 503 with Retry-After (the events may still be stored later; a
    retry with the same event ids is de-duplicated)."""
    runtime = runtime_of(request)
    written = asyncio.wrap_future(runtime.event_log.submit(events))
    timeout_s = runtime.settings.append_timeout_s
    try:
        # shield: a timed-out wait must not cancel the write under way.
        await asyncio.wait_for(asyncio.shield(written), timeout_s)
    except TimeoutError:
        raise StreamUnavailable(
            f"the stream did not confirm the write within {timeout_s:g} s", retry_after_s=5
        ) from None
    counter = metrics_of(request).events_accepted
    # One labels() lookup per event type, not per event: per event it cost about a third as much
    # as validating the batch (measured: 2.3 ms vs 6.7 ms for 500 events).
    for event_type, n in Counter(event.event_type for event in events).items():
        counter.labels(event_type).inc(n)


def rejected_entry(index: int, exc: ValidationError) -> dict[str, Any]:
    """One refused event of a batch: ``field`` as a single event's 400 names it; ``error`` keeps
    the field in front of the message, as it did before ``field`` was added."""
    return {"index": index, "field": exc.field, "error": str(exc)}


@router.post(
    "/v1/events",
    status_code=202,
    openapi_extra=request_body("EventIn", "EventBatch"),
    responses={
        202: response_of("EventsAccepted", "Accepted events are durable in the stream"),
        **AUTH_ERRORS,
        **RATE_LIMITED,
    },
)
async def post_events(request: Request) -> Response:
    """Record interactions: one event object, or {"events": [...]} with up to 500 events.

    Valid events of a batch are accepted even when others are not (as Kinesis PutRecords does);
    a 202 means every accepted event is durable in the stream. A single invalid event is a 400.
    """
    settings = runtime_of(request).settings
    check_tracking_id(request, settings.tracking_id)
    check_origin(request, settings.allowed_origins)
    check_rate(request, settings, request.app.state.event_rate)
    raws, single = split_body(await read_json(request))
    accepted: list[Event]
    rejected: list[tuple[int, ValidationError]]
    if single:
        try:
            accepted, rejected = [validate_event(raws[0])], []
        except ValidationError:
            metrics_of(request).events_rejected.inc()  # counted as a batch's rejections are
            raise
    else:
        accepted, rejected = validate_batch(raws)
    if rejected:
        metrics_of(request).events_rejected.inc(len(rejected))
    if accepted:
        await append_events(request, accepted)
    body: dict[str, Any] = {
        "accepted": len(accepted),
        "rejected": [rejected_entry(i, exc) for i, exc in rejected],
    }
    if single:
        body["event_id"] = accepted[0].event_id
    return json_response(body, 202)
