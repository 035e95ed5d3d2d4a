"""event_value: a number, or a string holding one (as a CSV cell), stored as that number."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec.lake.reader import LakeReader
from streamrec.runtime import Runtime
from tests.conftest import AUTH, drain


def test_a_numeric_string_is_stored_as_a_number(client: TestClient, runtime: Runtime) -> None:
    event = {"user_id": "u", "item_id": "i", "event_type": "purchase", "event_value": "12.5"}
    assert client.post("/v1/events", json=event, headers=AUTH).status_code == 202
    drain(runtime, "lake")
    table = LakeReader(runtime.settings.lake_location).query("SELECT event_value FROM events")
    assert table.column("event_value").to_pylist() == [12.5]


def test_other_strings_are_refused_naming_the_field(client: TestClient) -> None:
    for value in ("12,5", "twelve", "nan", True):
        event = {"user_id": "u", "item_id": "i", "event_value": value}
        r = client.post("/v1/events", json=event, headers=AUTH)
        assert r.status_code == 400 and r.json()["field"] == "event_value", value
