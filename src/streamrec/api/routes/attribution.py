"""GET /v1/metrics/attribution (admin): what recommendations earned, per interval and campaign.

Figures come from the ``attribution`` consumer group (:mod:`streamrec.attribution`), so they
survive restarts and are exact after a replay; they lag the stream by that group's lag.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import time

from fastapi import APIRouter, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.openapi import AUTH_ERRORS, response_of
from streamrec.api.responses import json_response
from streamrec.api.state import runtime_of
from streamrec.attribution.report import INTERVAL_PATTERN, attribution_report, parse_interval
from streamrec.errors import NotFoundError, ValidationError
from streamrec.events import MAX_ID_LENGTH

router = APIRouter(tags=["admin"])

DEFAULT_SPAN_S = 86_400.0


def parse_time(text: str | None, field: str, default: float) -> float:
    """Epoch seconds or ISO-8601 (no zone = UTC)."""
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        pass
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(field, f"{text!r} is neither epoch seconds nor ISO-8601") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.timestamp()


def _checked(value: float, field: str) -> float:
    if not 0 <= value < 1e11:
        raise ValidationError(field, "must be epoch seconds from 1970 to year 5000")
    return value


@router.get(
    "/v1/metrics/attribution",
    responses={
        200: response_of("AttributionReport", "Figures per interval and campaign"),
        **AUTH_ERRORS,
    },
)
async def get_attribution(
    request: Request,
    campaign: str | None = Query(None, min_length=1, max_length=MAX_ID_LENGTH),
    from_: str | None = Query(
        None, alias="from", max_length=64, description="Epoch seconds or ISO-8601; default to-24h"
    ),
    to: str | None = Query(None, max_length=64, description="Exclusive; default now"),
    interval: str = Query("15m", pattern=INTERVAL_PATTERN, description="Like 15m, 1h or 1d"),
) -> Response:
    """Recommendations served, items shown, clicks, conversions by type, revenue and CTR
    (clicks per item shown) per interval and campaign; intervals without data are left out."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    if not runtime.settings.record_recommendations:
        raise NotFoundError("attribution is off (record_recommendations = false)")
    end = _checked(parse_time(to, "to", time.time()), "to")
    start = _checked(parse_time(from_, "from", end - DEFAULT_SPAN_S), "from")
    step = parse_interval(interval)
    types = runtime.settings.conversion_event_types
    rows = await run_in_threadpool(
        attribution_report, runtime.attribution, start, end, step, campaign, types
    )
    return json_response(
        {
            "from": start,
            "to": end,
            "interval_s": step,
            "conversion_types": list(types),
            "intervals": [dataclasses.asdict(row) for row in rows],
        }
    )
