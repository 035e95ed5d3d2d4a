"""The item catalogue over HTTP: read one item or several; write one or a batch (admin).

Ids may hold any character, ``/`` included: every route takes its id as a ``path`` parameter, so
a percent-encoded ``cat%2Fdog`` (decoded before routing) still reaches it. The ids that cannot
be read back this way end in ``/similar``, ``/bought-together`` or ``/also-viewed``: those paths
are the item recommenders' routes, registered first.
"""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.body import read_json
from streamrec.api.errors import method_not_allowed
from streamrec.api.offload import off_loop
from streamrec.api.openapi import AUTH_ERRORS, request_body
from streamrec.api.responses import json_response
from streamrec.api.schemas import ItemBatch, ItemIn, ItemList, check_body
from streamrec.api.state import runtime_of
from streamrec.catalogue import Item, validate_item, validate_items
from streamrec.errors import NotFoundError, ValidationError
from streamrec.events import MAX_ID_LENGTH
from streamrec.runtime import Runtime

router = APIRouter(tags=["items"])

MAX_ITEMS_BODY_BYTES = 8 * 1_048_576  # 500 items with their properties
MAX_LOOKUP_IDS = 100
ItemId = Path(min_length=1, max_length=MAX_ID_LENGTH)


def _store(runtime: Runtime, items: list[Item]) -> int:
    count = runtime.catalogue.upsert(items)
    runtime.recommendations.catalogue.invalidate()  # visible to the next request
    return count


@router.get("/v1/items")
async def get_items(
    request: Request,
    ids: list[str] = Query(
        ..., alias="id", min_length=1, max_length=MAX_LOOKUP_IDS, description="item ids"
    ),
) -> Response:
    """Several items at once (``?id=a&id=b``, up to 100): those in the catalogue, in the order
    asked, and the ids it does not hold under ``missing`` (a page showing items that came from
    events without a catalogue entry gets them all in one request, without a 404 each)."""
    for k, item_id in enumerate(ids):
        if not 1 <= len(item_id) <= MAX_ID_LENGTH:
            raise ValidationError(f"id[{k}]", f"must be 1-{MAX_ID_LENGTH} characters")
    found = runtime_of(request).catalogue.get_many(ids)
    return json_response(
        {
            "items": [found[i].to_json() for i in dict.fromkeys(ids) if i in found],
            "missing": [i for i in dict.fromkeys(ids) if i not in found],
        }
    )


@router.get("/v1/items/{item_id:path}")
async def get_item(request: Request, item_id: str = ItemId) -> Response:
    item = runtime_of(request).catalogue.get(item_id)
    if item is None:
        raise NotFoundError(f"item {item_id!r} is not in the catalogue", "item_id")
    return json_response(item.to_json())


router.add_api_route(
    "/v1/items/{item_id:path}/similar",
    method_not_allowed,
    methods=["PUT"],
    include_in_schema=False,
)


@router.put("/v1/items/{item_id:path}", openapi_extra=request_body("ItemIn"), responses=AUTH_ERRORS)
async def put_item(request: Request, item_id: str = ItemId) -> Response:
    """Create or replace one item (admin): title, categories, properties, created_at, hidden."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    raw = await read_json(request)
    item = validate_item(raw, item_id=item_id)  # its messages name the field best
    check_body(raw, ItemIn)
    await off_loop(_store, runtime, [item])
    return json_response(item.to_json())


@router.post(
    "/v1/items",
    openapi_extra=request_body("ItemBatch", "ItemList"),
    responses=AUTH_ERRORS,
)
async def post_items(request: Request) -> Response:
    """Create or replace up to 500 items at once (admin): ``{"items": [...]}`` or a bare list.
    All or nothing: one invalid item rejects the batch, naming it (``items[3].title``)."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    body = await read_json(request, MAX_ITEMS_BODY_BYTES)
    raws = body.get("items") if isinstance(body, dict) else body
    items = validate_items(raws)  # its messages name the item and field best
    check_body(body, ItemBatch if isinstance(body, dict) else ItemList)
    return json_response({"upserted": await off_loop(_store, runtime, items)})
