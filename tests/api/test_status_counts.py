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


def rejected_counts(client: TestClient) -> tuple[int, str]:
    """(the /v1/status count, the prometheus counter's line)."""
    metrics = client.get("/metrics").text
    line = next(x for x in metrics.splitlines() if x.startswith("streamrec_events_rejected_total"))
    return client.get("/v1/status").json()["events"]["rejected"], line


def test_a_single_invalid_event_is_counted_as_rejected(client: TestClient) -> None:
    assert client.post("/v1/events", json={"user_id": "u"}, headers=AUTH).status_code == 400
    assert rejected_counts(client) == (1, "streamrec_events_rejected_total 1.0")
    batch = {"events": [{"user_id": "u"}, {"user_id": "u", "item_id": "i"}]}
    assert client.post("/v1/events", json=batch, headers=AUTH).status_code == 202
    assert client.post("/interaction", json={"userId": "u"}).status_code == 400
    assert rejected_counts(client) == (3, "streamrec_events_rejected_total 3.0")
    # A body that cannot be read holds no event to count.
    bad = client.post("/v1/events", content=b"{", headers={**AUTH, "content-type": "text/plain"})
    assert bad.status_code == 400 and rejected_counts(client)[0] == 3
