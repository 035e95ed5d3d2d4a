"""Promotions (serving/promotions.py): PUT/DELETE /v1/promotions/{name} (admin), GET one and
all. A request names them with ``GET /v1/recommendations/{user}?promotion=NAME``."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.body import read_json
from streamrec.api.openapi import AUTH_ERRORS, request_body, response_of
from streamrec.api.responses import json_response
from streamrec.api.routes.recommendations import _param_value
from streamrec.api.schemas import PromotionIn, decode_body
from streamrec.api.state import runtime_of
from streamrec.models.layout import NAME_PATTERN
from streamrec.serving.promotions import Promotion, PromotionStore

router = APIRouter(tags=["promotions"])

ONE: dict[int | str, dict[str, Any]] = {200: response_of("PromotionOut", "The promotion")}


def _name() -> str:
    return Path(min_length=1, max_length=128, pattern=NAME_PATTERN)  # type: ignore[no-any-return]


def store_of(request: Request) -> PromotionStore:
    return runtime_of(request).promotions


@router.get("/v1/promotions", responses={200: response_of("PromotionList", "Every promotion")})
async def list_promotions(request: Request) -> Response:
    promotions = await run_in_threadpool(store_of(request).all)
    return json_response({"promotions": [p.json() for p in promotions]})


@router.get("/v1/promotions/{name}", responses=ONE)
async def get_promotion(request: Request, name: str = _name()) -> Response:
    """404 (field ``promotion``) for an unknown name."""
    promotion = await run_in_threadpool(store_of(request).get, name)
    return json_response(promotion.json())


@router.put(
    "/v1/promotions/{name}",
    openapi_extra=request_body("PromotionIn"),
    responses={**ONE, **AUTH_ERRORS},
)
async def put_promotion(request: Request, name: str = _name()) -> Response:
    """Define or replace a promotion (admin): ``{"filter", "share", "params"?}``; a filter that
    does not compile with its params is a 400 naming ``filter``."""
    check_admin(request, runtime_of(request).settings.admin_key)
    body = decode_body(await read_json(request), PromotionIn)
    params = {k: _param_value(k, v) for k, v in (body.params or {}).items()}
    promotion = Promotion(name, body.filter, body.share, params).check()
    await run_in_threadpool(store_of(request).put, promotion)
    return json_response(promotion.json())


@router.delete("/v1/promotions/{name}", responses={**ONE, **AUTH_ERRORS})
async def delete_promotion(request: Request, name: str = _name()) -> Response:
    """Remove a promotion (admin); answers what it was. 404 for an unknown name."""
    check_admin(request, runtime_of(request).settings.admin_key)
    store = store_of(request)
    promotion = await run_in_threadpool(store.get, name)
    await run_in_threadpool(store.delete, name)
    return json_response(promotion.json())
