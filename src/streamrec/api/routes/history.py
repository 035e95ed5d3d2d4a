"""GET /v1/users/{user_id}/history and DELETE /v1/users/{user_id} (admin)."""

from __future__ import annotations

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from streamrec.api.auth import check_admin
from streamrec.api.offload import off_loop_when_blocking
from streamrec.api.responses import json_response
from streamrec.api.state import runtime_of
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


@router.get("/v1/users/{user_id}/history")
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


@router.delete("/v1/users/{user_id}")
def delete_user(request: Request, user_id: str = UserId) -> Response:
    """Erase the user's history and real-time state at once (admin). Lake rows: see the body."""
    runtime = runtime_of(request)
    check_admin(request, runtime.settings.admin_key)
    return json_response(
        {
            "user_id": user_id,
            **runtime.erase_user(user_id),
            "lake": "rows are removed by the next lake compaction or `streamrec lake erase USER_ID`",
        }
    )
