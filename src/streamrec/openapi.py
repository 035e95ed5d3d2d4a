"""JSON schemas of request bodies for the OpenAPI document (/docs). Bodies are parsed by hand on the
hot path (orjson + events.validate_event), so FastAPI cannot infer these."""

from __future__ import annotations

from typing import Any

_ID = {"type": "string", "minLength": 1, "maxLength": 256}

EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["user_id", "item_id"],
    "additionalProperties": False,
    "properties": {
        "event_id": {**_ID, "description": "optional; assigned by the server; de-duplication key"},
        "user_id": _ID,
        "item_id": _ID,
        "event_type": {"type": "string", "default": "view", "examples": ["view", "purchase"]},
        "event_value": {"type": "number", "description": "a rating, a price"},
        "session_id": _ID,
        "timestamp": {
            "oneOf": [{"type": "number"}, {"type": "string", "format": "date-time"}],
            "description": "epoch seconds or ISO-8601; default: time of receipt",
        },
        "properties": {"type": "object", "description": "flat object, at most 4 KB as JSON"},
        "impression": {"type": "array", "items": _ID, "maxItems": 500},
        "recommendation_id": _ID,
    },
}

EVENT_BODY_SCHEMA: dict[str, Any] = {
    "oneOf": [
        EVENT_SCHEMA,
        {
            "type": "object",
            "required": ["events"],
            "properties": {"events": {"type": "array", "items": EVENT_SCHEMA, "maxItems": 500}},
        },
    ]
}

INTERACTION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["userId", "itemId"],
    "properties": {
        "userId": _ID,
        "itemId": _ID,
        "type": {"type": "string", "default": "impression"},
        "sessionId": _ID,
        "time": {"oneOf": [{"type": "number"}, {"type": "string"}]},
    },
}
