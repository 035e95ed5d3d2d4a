"""Recommendation routes: for a user, similar items, popular, trending, and personalised ranking.

Every answer has the same shape: ``{"model": {"recipe", "version"}, "items": [{"item_id",
"score", ...catalogue metadata}]}``, plus ``user_id`` where a user is involved and
``recommendation_id`` on the recommending routes (send it back with the events it causes to
measure it). Those answers (for a user, similar items, rank) are recorded on the stream for
attribution (:mod:`streamrec.attribution`).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from streamrec.api.body import read_json
from streamrec.api.offload import off_loop_when_blocking
from streamrec.api.openapi import query_parameter, query_parameters, request_body, response_of
from streamrec.api.responses import json_response
from streamrec.api.schemas import RankRequest, decode_body
from streamrec.api.state import runtime_of
from streamrec.errors import ValidationError
from streamrec.events import MAX_EVENT_TYPE_LENGTH, MAX_ID_LENGTH, id_text
from streamrec.experiments.definition import Variant, assign
from streamrec.filters import ParamValue
from streamrec.serving.named import WINDOW_PATTERN, NamedRecommenders
from streamrec.serving.service import Recommendations, RecommendationService

router = APIRouter(tags=["recommendations"])

MAX_N = 500
PARAM_PREFIX = "param."


def _id() -> Any:
    """A fresh Path parameter per route: FastAPI records the name on the object it is given."""
    return Path(min_length=1, max_length=MAX_ID_LENGTH)


def _n() -> Any:
    return Query(10, ge=1, le=MAX_N, description="How many items, 1-500.")


def service_of(request: Request) -> RecommendationService:
    return runtime_of(request).recommendations


def _param_value(name: str, value: Any) -> ParamValue:
    if isinstance(value, list):
        if not all(isinstance(v, str | int | float | bool) for v in value):
            raise ValidationError(f"filter_params.{name}", "must hold text, numbers or booleans")
        return [v if isinstance(v, str | bool) else float(v) for v in value]
    if isinstance(value, bool | str):
        return _quoted_list(value) if isinstance(value, str) else value
    if isinstance(value, int | float):
        return float(value)
    raise ValidationError(f"filter_params.{name}", "must be text, a number, a boolean or a list")


def _quoted_list(value: str) -> ParamValue:
    """Personalize's filterValues form: ``"\\"Comedy\\",\\"Drama\\""`` is the list of both."""
    if value.startswith('"') and value.endswith('"'):
        try:
            parsed = json.loads(f"[{value}]")
        except json.JSONDecodeError:
            return value
        if all(isinstance(v, str) for v in parsed):
            return list(parsed) if len(parsed) > 1 else str(parsed[0])
    return value


def filter_params_parameter() -> dict[str, Any]:
    """``filter_params`` for the OpenAPI document of each route that reads it with
    :func:`filter_params`. The ``param.NAME`` form cannot be declared as a parameter (OpenAPI
    names parameters exactly), so its description says it."""
    return query_parameter(
        "filter_params",
        "A JSON object binding the filter's $NAMES to text, numbers, booleans or lists of them, "
        'like {"GENRES": "Comedy"}; Personalize\'s quoted list "\\"Comedy\\",\\"Drama\\"" is '
        f"the list of both. Or, per name, {PARAM_PREFIX}NAME=value (repeat it for a list); "
        "those win over filter_params.",
        {"type": "string"},
    )


def filter_params(request: Request) -> dict[str, ParamValue]:
    """``filter_params`` (a JSON object) merged with ``param.NAME=value`` (repeat for lists)."""
    params: dict[str, ParamValue] = {}
    raw = request.query_params.get("filter_params")
    if raw:
        try:
            decoded = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise ValidationError("filter_params", f"must be a JSON object: {exc.msg}") from exc
        if not isinstance(decoded, dict):
            raise ValidationError("filter_params", "must be a JSON object")
        params.update({str(k): _param_value(str(k), v) for k, v in decoded.items()})
    for key in {k for k in request.query_params if k.startswith(PARAM_PREFIX)}:
        values = request.query_params.getlist(key)
        name = key[len(PARAM_PREFIX) :]
        params[name] = values if len(values) > 1 else _quoted_list(values[0])
    return params


def excluded_ids(text: str | None) -> list[str]:
    """``exclude``'s comma-separated ids (blank ones skipped), each at most MAX_ID_LENGTH
    characters as every other id: a longer one names no item, so it is a 400, not ignored."""
    ids = [part.strip() for part in (text or "").split(",") if part.strip()]
    for item_id in ids:
        if len(item_id) > MAX_ID_LENGTH:
            raise ValidationError(
                "exclude", f"each id must be 1-{MAX_ID_LENGTH} characters, got {len(item_id)}"
            )
    return ids


def record(
    request: Request,
    route: str,
    result: Recommendations,
    user_id: str | None = None,
    session_id: str | None = None,
    anchor_item: str | None = None,
    arm: Arm | None = None,
) -> None:
    """Record the answer on the stream for attribution (queued; the response does not wait)."""
    recorder = runtime_of(request).recorder
    if arm is None:
        recorder.record(route, result, user_id, session_id, anchor_item)
        return
    variant = (arm.experiment, arm.variant.name)
    recorder.record(route, result, user_id, session_id, anchor_item, arm.variant.campaign, variant)


class Arm(NamedTuple):
    """The experiment and variant a request was assigned to."""

    experiment: str
    variant: Variant

    def json(self) -> dict[str, str]:
        return {"experiment": self.experiment, "variant": self.variant.name}


def serving_for(request: Request, route: str, key: str) -> tuple[RecommendationService, Arm | None]:
    """The service for the variant of the experiment running on ``route`` that ``key`` (the
    user id) falls in, or the served campaign's when none runs."""
    runtime = runtime_of(request)
    service = runtime.recommendations
    experiment = runtime.experiments.running_for(route)
    if experiment is None:
        return service, None
    variant = assign(experiment, key)
    return service.for_campaign(variant.campaign), Arm(experiment.name, variant)


def answer(service: RecommendationService, result: Recommendations, **extra: Any) -> dict[str, Any]:
    return {**extra, "model": result.model_json(), "items": service.decorate(result)}


# Read routes are `async def`: their store reads take well under a millisecond, and handing each
# request to a worker thread cost more than the work itself (the event loop held the GIL 82% of
# the time under wrk at 100,000 items, for 455 requests/s against 895 scored per second in-process).
# They go to a thread only when the call may wait on I/O: see streamrec.api.offload.
@router.get(
    "/v1/recommendations/{user_id:path}",
    responses={200: response_of("UserRecommendations", "The user's items, best first")},
    openapi_extra=query_parameters(filter_params_parameter()),
)
async def get_recommendations(
    request: Request,
    user_id: str = _id(),
    n: int = _n(),
    session_id: str | None = Query(None, min_length=1, max_length=MAX_ID_LENGTH),
    filter: str | None = Query(None, max_length=4096, description="A filter expression."),
    exclude: str | None = Query(
        None,
        description=f"Comma-separated item ids never to return (each 1-{MAX_ID_LENGTH} characters).",
    ),
    promotion: list[str] | None = Query(
        None,
        description="A promotion's name (repeatable; shares summing to at most 1): that share "
        "of the n slots holds the best items passing its filter, marked promoted.",
    ),
) -> Response:
    """Personalised recommendations; reflects every event the realtime consumer has processed.
    Under a running experiment the answer also names its ``experiment`` and ``variant``."""
    service, arm = serving_for(request, "recommendations", user_id)
    store = runtime_of(request).promotions
    request_filter = (filter or None, filter_params(request), excluded_ids(exclude))

    def promoted() -> Recommendations:
        promotions = store.for_request(promotion or [])
        return service.recommend_promoted(user_id, n, session_id, request_filter, promotions)

    # promotions are read from the model location (an object store may be a network away)
    result = await (
        run_in_threadpool(promoted) if promotion else off_loop_when_blocking(request, promoted)
    )
    record(request, "recommendations", result, user_id, session_id, arm=arm)
    extra = arm.json() if arm else {}
    return json_response(
        answer(
            service, result, user_id=user_id, recommendation_id=result.recommendation_id, **extra
        )
    )


@router.get(
    "/v1/items/{item_id:path}/similar",
    responses={200: response_of("ItemRecommendations", "Related items, best first")},
)
async def get_similar(request: Request, item_id: str = _id(), n: int = _n()) -> Response:
    """Items related to this one (the model's item-item view, else stream co-occurrence)."""
    service = service_of(request)
    result = await off_loop_when_blocking(request, service.similar, item_id, n)
    record(request, "similar", result, anchor_item=item_id)
    return json_response(
        answer(service, result, item_id=item_id, recommendation_id=result.recommendation_id)
    )


@router.get(
    "/v1/popular",
    responses={200: response_of("PopularItems", "Popular items, best first")},
    openapi_extra=query_parameters(filter_params_parameter()),
)
async def get_popular(
    request: Request,
    n: int = _n(),
    event_type: str | None = Query(
        None,
        min_length=1,
        max_length=MAX_EVENT_TYPE_LENGTH,
        description="Count only this event type (one of event_type_weights' keys): purchase for "
        "best sellers, view for most viewed. Default: every type by its weight.",
    ),
    window: str | None = Query(
        None,
        pattern=WINDOW_PATTERN,
        description="Count the events of the last 1h to 90d (like 24h or 7d; default 7d when "
        "event_type is given). Without event_type and window: time-decayed popularity.",
    ),
    filter: str | None = Query(None, max_length=4096, description="A filter expression."),
) -> Response:
    """Popular items: time-decayed popularity, or events per item in a window (best sellers,
    most viewed); from the stream, fresh within seconds."""
    service = service_of(request)
    named = NamedRecommenders(service)
    params = filter_params(request)
    result = await off_loop_when_blocking(
        request, named.popular, n, event_type, window, filter or None, params
    )
    return json_response(answer(service, result))


@router.get(
    "/v1/trending", responses={200: response_of("PopularItems", "Trending items, best first")}
)
async def get_trending(request: Request, n: int = _n()) -> Response:
    """Items whose interaction rate rises fastest (last trending_window_s vs the one before)."""
    service = service_of(request)
    result = await off_loop_when_blocking(request, service.trending_items, n)
    return json_response(answer(service, result))


def _rank_body(body: Any) -> tuple[str, list[str], str | None]:
    """(user id, distinct item ids in order, session id), integer ids as their text."""
    rank = decode_body(body, RankRequest)
    item_ids = [id_text(f"item_ids[{k}]", item_id) for k, item_id in enumerate(rank.item_ids)]
    session_id = None if rank.session_id is None else id_text("session_id", rank.session_id)
    return id_text("user_id", rank.user_id), list(dict.fromkeys(item_ids)), session_id


@router.post("/v1/rank", openapi_extra=request_body("RankRequest"))
async def post_rank(request: Request) -> Response:
    """The given items re-ordered for the user (Personalized-Ranking); unknown items come last
    with score null, hidden items are left out."""
    user_id, item_ids, session_id = _rank_body(await read_json(request))
    service, arm = serving_for(request, "rank", user_id)
    result = await off_loop_when_blocking(request, service.rank, user_id, item_ids, session_id)
    record(request, "rank", result, user_id, session_id, arm=arm)
    extra = arm.json() if arm else {}
    return json_response(
        answer(
            service, result, user_id=user_id, recommendation_id=result.recommendation_id, **extra
        )
    )
