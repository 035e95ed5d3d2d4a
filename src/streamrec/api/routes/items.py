"""The item catalogue over HTTP: read one item; write one or a batch (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Request
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.body import read_json
from streamrec.api.offload import off_loop
from streamrec.api.responses import json_response
from streamrec.api.state import runtime_of
from streamrec.catalogue import Item, validate_item, validate_items
from streamrec.errors import NotFoundError
from streamrec.events import MAX_ID_LENGTH
from streamrec.runtime import Runtime

router = APIRouter(tags=["items"])

MAX_ITEMS_BODY_BYTES = 8 * 1_048_576  # 500 items with their properties
ItemId = Path(min_length=1, max_length=MAX_ID_LENGTH)


def _store(runtime: Runtime, items: list[Item]) -> int:
    count = runtime.catalogue.upsert(items)
    runtime.recommendations.catalogue.invalidate()  # visible to the next request
    return count


@router.get("/v1/items/{item_id}")
async def get_item(request: Request, item_id: str = ItemId) -> Response:
    item = runtime_of(request).catalogue.get(item_id)
    if item is None:
        raise NotFoundError(f"item {item_id!r} is not in the catalogue")
    return json_response(item.to_json())


@router.put("/v1/items/{item_id}")
async def put_item(request: Request, item_id: str = ItemId) -> Response:
    """Create or replace one item (admin): title, categories, properties, created_at, hidden."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    item = validate_item(await read_json(request), item_id=item_id)
    await off_loop(_store, runtime, [item])
    return json_response(item.to_json())


@router.post("/v1/items")
async def post_items(request: Request) -> Response:
    """Create or replace up to 500 items at once (admin): ``{"items": [...]}`` or a bare list.
    All or nothing: one invalid item rejects the batch, naming it (``items[3].title``)."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    body = await read_json(request, MAX_ITEMS_BODY_BYTES)
    raws = body.get("items") if isinstance(body, dict) else body
    items = validate_items(raws)
    return json_response({"upserted": await off_loop(_store, runtime, items)})
