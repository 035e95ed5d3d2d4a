"""GET /v1/status names its event counts for what they are; imported events are counted."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from streamrec.importer import import_file
from streamrec.runtime import Runtime
from tests.conftest import AUTH


def test_imported_events_are_in_the_stream_count(
    client: TestClient, runtime: Runtime, tmp_path: Path
) -> None:
    csv = tmp_path / "old.csv"
    csv.write_text("user_id,item_id,timestamp\n" + "".join(f"u{k},i{k},1e9\n" for k in range(7)))
    import_file(csv, "csv", runtime.settings, runtime.event_log, progress=False)
    client.post("/v1/events", json={"user_id": "u", "item_id": "i"}, headers=AUTH)
    events = client.get("/v1/status").json()["events"]
    assert events["accepted"] == 1 and "HTTP API" in events["counted"]
    assert events["in_stream"] == 8
