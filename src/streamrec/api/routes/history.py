"""GET /v1/users/{user_id}/history and DELETE /v1/users/{user_id} (admin)."""

from __future__ import annotations

from typing import cast

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.errors import method_not_allowed
from streamrec.api.offload import off_loop_when_blocking
from streamrec.api.openapi import AUTH_ERRORS
from streamrec.api.responses import json_response
from streamrec.api.state import runtime_of
from streamrec.erasure import ErasureJobs
from streamrec.errors import NotFoundError
from streamrec.stores import HistoryEntry, HistoryStore

router = APIRouter(tags=["history"])

UserId = Path(min_length=1, max_length=256)


def history_store(request: Request) -> HistoryStore:
    store = runtime_of(request).history
    if store is None:
        raise NotFoundError("the history API is off (recently_visited_items = false)")
    return store


def entry_json(entry: HistoryEntry) -> dict[str, object]:
    return {
        "item_id": entry.item_id,
        "event_type": entry.event_type,
        "last_seen": entry.last_seen,
        "count": entry.count,
    }


@router.get("/v1/users/{user_id:path}/history")
async def get_history(
    request: Request,
    user_id: str = UserId,
    limit: int = Query(10, ge=1, le=500),
    event_type: str | None = Query(None, min_length=1, max_length=64),
) -> Response:
    """The user's recently visited items, newest first, one row per item (TTL: history_days)."""
    store = history_store(request)
    entries = await off_loop_when_blocking(request, store.recent, user_id, limit, event_type)
    return json_response({"user_id": user_id, "items": [entry_json(e) for e in entries]})


def erasures_of(request: Request) -> ErasureJobs:
    return cast(ErasureJobs, request.app.state.erasures)


router.add_api_route(
    "/v1/users/{user_id:path}/history",
    method_not_allowed,
    methods=["DELETE"],
    include_in_schema=False,
)


@router.delete("/v1/users/{user_id:path}", responses=AUTH_ERRORS)
def delete_user(request: Request, user_id: str = UserId) -> Response:
    """Erase the user everywhere (admin): stores, stream payloads and lake rows within a minute
    (see streamrec.erasure). Follow the erasure at ``status_url``."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    job = erasures_of(request).start(user_id)
    url = f"/v1/erasures/{job.erasure_id}"
    return json_response({"user_id": user_id, **job.as_json(), "status_url": url})


@router.get("/v1/erasures/{erasure_id}", responses=AUTH_ERRORS)
def get_erasure(request: Request, erasure_id: str = Path(min_length=1, max_length=64)) -> Response:
    """An erasure's state (admin): running, done, partial or failed, with what it deleted."""
    check_admin(request, runtime_of(request).settings.admin_key)
    job = erasures_of(request).get(erasure_id)
    if job is None:
        raise NotFoundError(f"no erasure {erasure_id!r}", "erasure_id")
    return json_response(job.as_json())
