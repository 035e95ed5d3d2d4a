"""The event schema: every rule of validate_event, and the codec."""

from __future__ import annotations

import time

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.errors import ValidationError
from streamrec.events import (
    decode_event,
    encode_event,
    new_event_id,
    validate_batch,
    validate_event,
)

NOW = 1_790_000_000.0


def test_minimal_event_gets_defaults() -> None:
    e = validate_event({"user_id": "u", "item_id": 42}, NOW)
    assert (e.user_id, e.item_id, e.event_type, e.timestamp, e.received_at) == (
        "u",
        "42",
        "view",
        NOW,
        NOW,
    )
    assert len(e.event_id) == 30


def test_full_event_round_trips_through_the_codec() -> None:
    raw = {
        "event_id": "e1",
        "user_id": "u",
        "item_id": "i",
        "event_type": "purchase",
        "event_value": "9.5",
        "session_id": "s",
        "timestamp": "2026-01-02T03:04:05+00:00",
        "properties": {"price": 9.5, "colour": "red", "gift": False, "note": None},
        "impression": ["a", "b"],
        "recommendation_id": "r1",
    }
    e = validate_event(raw, NOW)
    assert e.event_value == 9.5 and e.timestamp == 1767323045.0
    assert decode_event(encode_event(e)) == e


@pytest.mark.parametrize(
    ("raw", "field", "fragment"),
    [
        ({"item_id": "i"}, "user_id", "required"),
        ({"user_id": "", "item_id": "i"}, "user_id", "1-256"),
        ({"user_id": "u" * 257, "item_id": "i"}, "user_id", "1-256"),
        ({"user_id": ["u"], "item_id": "i"}, "user_id", "string"),
        ({"user_id": "u", "item_id": "i", "timestamp": NOW * 1000}, "timestamp", "milliseconds"),
        ({"user_id": "u", "item_id": "i", "timestamp": -1}, "timestamp", "1970"),
        ({"user_id": "u", "item_id": "i", "timestamp": NOW + 301}, "timestamp", "future"),
        ({"user_id": "u", "item_id": "i", "timestamp": "soon"}, "timestamp", "ISO-8601"),
        ({"user_id": "u", "item_id": "i", "timestamp": True}, "timestamp", "epoch"),
        ({"user_id": "u", "item_id": "i", "event_value": "lots"}, "event_value", "number"),
        ({"user_id": "u", "item_id": "i", "properties": [1]}, "properties", "flat"),
        ({"user_id": "u", "item_id": "i", "properties": {"a": "x" * 5000}}, "properties", "4096"),
        ({"user_id": "u", "item_id": "i", "impression": "a"}, "impression", "list"),
        ({"user_id": "u", "item_id": "i", "impression": ["a", ""]}, "impression[1]", "1-256"),
        ({"user_id": "u", "item_id": "i", "event_type": ""}, "event_type", "1-64"),
        ({"user_id": "u", "item_id": "i", "surprise": 1}, "surprise", "not an event field"),
        ("text", "event", "object"),
    ],
)
def test_invalid_events_name_the_field(raw: object, field: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as info:
        validate_event(raw, NOW)
    assert info.value.field == field
    assert fragment in str(info.value)


HINT, FUTURE = "looks like milliseconds", "is more than 5 minutes in the future"


@pytest.mark.parametrize(
    ("timestamp", "message"),
    [
        (NOW * 1000, HINT),
        (str(int(NOW * 1000)), HINT),  # a CSV cell
        (2e11, HINT),  # milliseconds of 1976
        (1e14, HINT),
        (NOW * 1_000_000, FUTURE),  # microseconds: dividing by 1000 would not do
        (99999999999999999999999999, FUTURE),
        (1e26, FUTURE),
        ("9999-12-31T23:59:59+14:00", FUTURE),
        ("2300-01-01T00:00:00Z", FUTURE),
    ],
)
def test_the_milliseconds_hint_is_only_for_numbers_in_their_range(
    timestamp: object, message: str
) -> None:
    with pytest.raises(ValidationError) as info:
        validate_event({"user_id": "u", "item_id": "i", "timestamp": timestamp}, NOW)
    assert info.value.field == "timestamp" and message in info.value.message


def test_batch_keeps_valid_events_and_indexes_errors() -> None:
    accepted, rejected = validate_batch([{"user_id": "u", "item_id": "i"}, {"user_id": "u"}], NOW)
    assert len(accepted) == 1
    assert [(i, exc.field, str(exc)) for i, exc in rejected] == [
        (1, "item_id", "item_id: is required")
    ]


@given(st.floats(min_value=0, max_value=NOW + 300))
def test_any_plausible_epoch_second_is_accepted(ts: float) -> None:
    assert validate_event({"user_id": "u", "item_id": "i", "timestamp": ts}, NOW).timestamp == ts


def test_event_ids_are_unique_and_time_ordered() -> None:
    ids = [new_event_id(time.time()) for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert new_event_id(1.0) < new_event_id(2.0)
