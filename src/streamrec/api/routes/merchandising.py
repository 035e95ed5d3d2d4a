"""The shop's named recommenders for an item: bought together and also viewed
(:mod:`streamrec.serving.named`). Both answer like ``/v1/items/{item_id}/similar``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from streamrec.api.errors import method_not_allowed
from streamrec.api.offload import off_loop_when_blocking
from streamrec.api.openapi import query_parameters, response_of
from streamrec.api.responses import json_response
from streamrec.api.routes.recommendations import (
    _id,
    _n,
    answer,
    filter_params,
    filter_params_parameter,
    service_of,
)
from streamrec.serving.named import NamedRecommenders

router = APIRouter(tags=["recommendations"])

ITEM_ANSWER: dict[int | str, dict[str, Any]] = {
    200: response_of("ItemRecommendations", "Items for the item, best first")
}


def _filter() -> Any:
    return Query(None, max_length=4096, description="A filter expression.")


@router.get(
    "/v1/items/{item_id:path}/bought-together",
    responses=ITEM_ANSWER,
    openapi_extra=query_parameters(filter_params_parameter()),
)
async def get_bought_together(
    request: Request, item_id: str = _id(), n: int = _n(), filter: str | None = _filter()
) -> Response:
    """Items purchased in the same order or session as this one (within an hour), most often
    first; from the stream, fresh within seconds."""
    service = service_of(request)
    named = NamedRecommenders(service)
    params = filter_params(request)
    result = await off_loop_when_blocking(
        request, named.bought_together, item_id, n, filter or None, params
    )
    return json_response(answer(service, result, item_id=item_id))


@router.get(
    "/v1/items/{item_id:path}/also-viewed",
    responses=ITEM_ANSWER,
    openapi_extra=query_parameters(filter_params_parameter()),
)
async def get_also_viewed(
    request: Request, item_id: str = _id(), n: int = _n(), filter: str | None = _filter()
) -> Response:
    """Items that the customers who viewed this one also viewed (within a day of it), most
    often first; from the stream, fresh within seconds."""
    service = service_of(request)
    named = NamedRecommenders(service)
    params = filter_params(request)
    result = await off_loop_when_blocking(
        request, named.also_viewed, item_id, n, filter or None, params
    )
    return json_response(answer(service, result, item_id=item_id))


# PUT /v1/items/{item_id} must not take these paths for an item id ending in them: 405.
for _suffix in ("bought-together", "also-viewed"):
    router.add_api_route(
        f"/v1/items/{{item_id:path}}/{_suffix}",
        method_not_allowed,
        methods=["PUT"],
        include_in_schema=False,
    )
