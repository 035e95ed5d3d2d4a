"""Body errors in the project's words (``schemas.in_words``): msgspec's "Expected `int | str`,
got `float`" becomes "must be a whole number or text, got a number", naming the field."""

from __future__ import annotations

from typing import Annotated

import msgspec
import pytest
from fastapi.testclient import TestClient

from streamrec.api.schemas import field_of


class _Shape(msgspec.Struct):
    ids: Annotated[list[str], msgspec.Meta(min_length=1)]
    share: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)] = 0.5
    activate: bool | None = None
    code: Annotated[str, msgspec.Meta(max_length=3)] = "x"
    key: int | str = "x"


@pytest.mark.parametrize(
    ("body", "field", "message"),
    [
        ({"ids": []}, "ids", "must be a list of at least 1 entries"),
        ({"ids": ["a"], "share": 2.0}, "share", "must be at most 1.0"),
        ({"ids": ["a"], "share": -1}, "share", "must be at least 0.0"),
        ({"ids": ["a"], "activate": "yes"}, "activate", "must be true or false or null, got text"),
        ({"ids": ["a"], "code": "long"}, "code", "must be text of at most 3 characters"),
        ({"ids": ["a"], "key": 1.5}, "key", "must be a whole number or text, got a number"),
        ({"ids": [5]}, "ids[0]", "must be text, got a whole number"),
        ({}, "ids", "is required"),
    ],
)
def test_msgspec_errors_in_words(body: object, field: str, message: str) -> None:
    with pytest.raises(msgspec.ValidationError) as info:
        msgspec.convert(body, _Shape)
    assert field_of(info.value) == (field, message)


def test_a_body_error_through_the_api(client: TestClient) -> None:
    response = client.post("/v1/rank", json={"user_id": "u1", "item_ids": []})
    assert response.status_code == 400
    assert response.json() == {
        "error": "must be a list of at least 1 entries",
        "field": "item_ids",
    }
