"""Request errors in the project's words: a 400 naming the field, the message saying what the
value must be and what it was (pydantic's own words only for error types not listed)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from streamrec.api.errors import phrased


@pytest.mark.parametrize(
    ("path", "params", "field", "error"),
    [
        ("/v1/recommendations/u1", {"n": 0}, "n", "n: must be at least 1, got 0"),
        ("/v1/recommendations/u1", {"n": 501}, "n", "n: must be at most 500, got 501"),
        ("/v1/recommendations/u1", {"n": "ten"}, "n", "n: must be a whole number, got 'ten'"),
        (
            "/v1/popular",
            {"window": "week"},
            "window",
            "window: must be a number of hours or days, like 24h or 7d, got 'week'",
        ),
    ],
)
def test_parameter_errors_say_what_the_value_must_be(
    client: TestClient, path: str, params: dict[str, object], field: str, error: str
) -> None:
    response = client.get(path, params=params)
    assert response.status_code == 400
    assert response.json() == {"error": error, "field": field}


def test_an_error_type_without_a_phrase_keeps_pydantic_words() -> None:
    assert phrased({"type": "uuid_parsing", "msg": "Input should be a valid UUID"}) == (
        "Input should be a valid UUID"
    )


def test_a_phrase_missing_its_context_keeps_pydantic_words() -> None:
    error = {"type": "greater_than_equal", "msg": "Input should be >= 1", "input": 0}
    assert phrased(error) == "Input should be >= 1"
