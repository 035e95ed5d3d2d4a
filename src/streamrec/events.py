"""The event schema and its validation: the one place that knows what a valid event is.

An event is one user interaction (a view, a click, a purchase, a rating). Raw JSON objects from the API,
the CSV/JSONL importers and the AWS-compatible routes all become :class:`Event` through
:func:`validate_event`, which raises :class:`ValidationError` naming the offending field.
"""

from __future__ import annotations

import math
import os
import threading
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from streamrec.errors import ValidationError

MAX_ID_LENGTH = 256
MAX_EVENT_TYPE_LENGTH = 64
MAX_PROPERTIES_BYTES = 4096
MAX_EVENTS_PER_REQUEST = 500
MAX_BODY_BYTES = 1_048_576
MAX_IMPRESSION_ITEMS = 500
FUTURE_TOLERANCE_S = 300.0
RESERVED_EVENT_PREFIX = "$"  # system events in the stream ($alias, $recommendation)
# The stream record of a served recommendation (streamrec.attribution.records): never from a client.
RECOMMENDATION_EVENT_TYPE = "$recommendation"
# Epoch seconds above this (year 5138) are certainly milliseconds or microseconds.
MILLISECONDS_THRESHOLD = 1e11
# Epoch milliseconds up to this (year 5138 again): a number beyond is not milliseconds either.
MAX_EPOCH_MILLISECONDS = 1e14

PropertyValue = str | int | float | bool | None

KNOWN_FIELDS = frozenset(
    {
        "event_id",
        "user_id",
        "item_id",
        "event_type",
        "event_value",
        "session_id",
        "timestamp",
        "properties",
        "impression",
        "recommendation_id",
    }
)


class Event(msgspec.Struct, frozen=True, omit_defaults=True):
    """One validated interaction. `timestamp` is when it happened, `received_at` when we got it."""

    event_id: str
    user_id: str
    item_id: str
    timestamp: float
    received_at: float
    event_type: str = "view"
    event_value: float | None = None
    session_id: str | None = None
    properties: dict[str, PropertyValue] | None = None
    impression: list[str] | None = None
    recommendation_id: str | None = None


_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder(Event)


def encode_event(event: Event) -> bytes:
    return _encoder.encode(event)


def decode_event(data: bytes) -> Event:
    return _decoder.decode(data)


class _EventIdFactory:
    """Unique, roughly time-ordered ids: 48-bit milliseconds + process-random prefix + counter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counter = 0
        self._prefix = os.urandom(5).hex()

    def new(self, now: float) -> str:
        with self._lock:
            self._counter = (self._counter + 1) & 0xFFFFFFFF
            counter = self._counter
        return f"{int(now * 1000):012x}{self._prefix}{counter:08x}"


new_event_id = _EventIdFactory().new


def _check_id(field: str, value: Any, required: bool = True) -> str | None:
    if value is None and not required:
        return None
    if value is None:
        raise ValidationError(field, "is required")
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValidationError(field, f"must be a string, got {type(value).__name__}")
    text = str(value)
    if not 1 <= len(text) <= MAX_ID_LENGTH:
        raise ValidationError(field, f"must be 1-{MAX_ID_LENGTH} characters, got {len(text)}")
    return text


def id_text(field: str, value: Any) -> str:
    """A required id as text, checked as an event's ids are: a string, or an integer taken as its
    text (``5`` is ``"5"``: JSON clients often send numeric ids as numbers), of 1-MAX_ID_LENGTH
    characters. A float, boolean or anything else is a ValidationError naming ``field``."""
    return str(_check_id(field, value))


def parse_timestamp(value: Any, now: float, field: str = "timestamp") -> float:
    """Epoch seconds (number or numeric string) or ISO-8601 text -> epoch seconds, range-checked.

    The milliseconds hint is given only where it is likely right: a number (or numeric text) in
    the range of epoch milliseconds from 1973 to year 5138. ISO-8601 text far ahead, and numbers
    beyond that range (microseconds, nonsense), get the plain "in the future" message, where
    "divide by 1000" would mislead."""
    seconds, is_number = _timestamp_seconds(value, field)
    if not math.isfinite(seconds):
        raise ValidationError(field, "must be a finite number")
    if is_number and MILLISECONDS_THRESHOLD < seconds <= MAX_EPOCH_MILLISECONDS:
        raise ValidationError(
            field, f"{value!r} looks like milliseconds; send epoch seconds (divide by 1000)"
        )
    if seconds < 0:
        raise ValidationError(field, "must not be before 1970-01-01")
    if seconds > now + FUTURE_TOLERANCE_S:
        raise ValidationError(field, "is more than 5 minutes in the future")
    return seconds


def _timestamp_seconds(value: Any, field: str) -> tuple[float, bool]:
    """(the value as epoch seconds, whether it was a number or numeric text)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value), True
    if not isinstance(value, str):
        raise ValidationError(field, "must be epoch seconds or ISO-8601 text")
    try:
        return float(value), True
    except ValueError:
        return _parse_iso_timestamp(value, field), False


def _parse_iso_timestamp(text: str, field: str) -> float:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValidationError(field, f"{text!r} is neither epoch seconds nor ISO-8601") from exc
    if parsed.tzinfo is None:
        # A timestamp without zone is taken as UTC, as Personalize does.
        from datetime import UTC

        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _check_properties(value: Any) -> dict[str, PropertyValue] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValidationError("properties", "must be a flat JSON object")
    for key, item in value.items():
        if isinstance(item, dict | list):
            raise ValidationError(f"properties.{key}", "must be a string, number, boolean or null")
        if isinstance(item, float) and not math.isfinite(item):
            raise ValidationError(f"properties.{key}", "must be a finite number")
    if len(msgspec.json.encode(value)) > MAX_PROPERTIES_BYTES:
        raise ValidationError("properties", f"must be at most {MAX_PROPERTIES_BYTES} bytes as JSON")
    return value


def _check_impression(value: Any) -> list[str] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        raise ValidationError("impression", "must be a list of item ids")
    if len(value) > MAX_IMPRESSION_ITEMS:
        raise ValidationError("impression", f"must list at most {MAX_IMPRESSION_ITEMS} items")
    return [str(_check_id(f"impression[{i}]", v)) for i, v in enumerate(value)]


def _check_value(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValidationError("event_value", "must be a number")
    try:
        number = float(value)
    except ValueError as exc:
        raise ValidationError("event_value", f"{value!r} is not a number") from exc
    if not math.isfinite(number):
        raise ValidationError("event_value", "must be a finite number")
    return number


def _check_event_type(value: Any) -> str:
    if value is None:
        return "view"
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EVENT_TYPE_LENGTH:
        raise ValidationError("event_type", f"must be text of 1-{MAX_EVENT_TYPE_LENGTH} characters")
    if value.startswith(RESERVED_EVENT_PREFIX):
        # "$alias", "$recommendation" and any later system event travel in the stream: a client
        # must not forge one
        raise ValidationError(
            "event_type", f"must not start with {RESERVED_EVENT_PREFIX!r} (reserved)"
        )
    return value


def validate_event(raw: Any, now: float | None = None) -> Event:
    """Check one raw event object and return it as an Event, or raise ValidationError."""
    received_at = time.time() if now is None else now
    if not isinstance(raw, Mapping):
        raise ValidationError("event", "must be a JSON object")
    unknown = set(raw) - KNOWN_FIELDS
    if unknown:
        raise ValidationError(sorted(unknown)[0], "is not an event field")
    timestamp = raw.get("timestamp")
    return Event(
        event_id=_check_id("event_id", raw.get("event_id"), False) or new_event_id(received_at),
        user_id=str(_check_id("user_id", raw.get("user_id"))),
        item_id=str(_check_id("item_id", raw.get("item_id"))),
        event_type=_check_event_type(raw.get("event_type")),
        event_value=_check_value(raw.get("event_value")),
        session_id=_check_id("session_id", raw.get("session_id"), False),
        timestamp=received_at if timestamp is None else parse_timestamp(timestamp, received_at),
        received_at=received_at,
        properties=_check_properties(raw.get("properties")),
        impression=_check_impression(raw.get("impression")),
        recommendation_id=_check_id("recommendation_id", raw.get("recommendation_id"), False),
    )


def validate_batch(
    raws: Sequence[Any], now: float | None = None
) -> tuple[list[Event], list[tuple[int, ValidationError]]]:
    """Validate each event of a batch: (accepted events, [(index, the error, naming its field)])."""
    received_at = time.time() if now is None else now
    accepted: list[Event] = []
    rejected: list[tuple[int, ValidationError]] = []
    for index, raw in enumerate(raws):
        try:
            accepted.append(validate_event(raw, received_at))
        except ValidationError as exc:
            rejected.append((index, exc))
    return accepted, rejected
