"""An API-only process follows the stream, so its popularity and co-occurrence stay current
while a separate process runs the `realtime` consumer group."""

from __future__ import annotations

import time

from streamrec.runtime import Runtime
from tests.conftest import RuntimeFactory, drain
from tests.factories import make_event


def wait_for(predicate, timeout_s: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def popular_ids(runtime: Runtime) -> list[str]:
    return [i for i, _ in runtime.recommendations.popular_items(5).items]


def test_api_process_counts_new_events_once(make_runtime: RuntimeFactory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    consumer = make_runtime(data_dir=tmp_path / "shared")
    consumer.event_log.append([make_event(f"u{i}", "old") for i in range(3)])
    drain(consumer, "realtime")  # counted in the store before the API process starts

    api = make_runtime(data_dir=tmp_path / "shared")
    api.start_stream_tail()
    assert popular_ids(api) == ["old"]
    consumer.event_log.append([make_event(f"v{i}", "new") for i in range(5)])
    assert wait_for(lambda: popular_ids(api)[:1] == ["new"])
    scores = dict(api.recommendations.popular_items(5).items)
    assert scores["new"] > scores["old"]
    # Nothing was committed under the tail's private group.
    assert all(set(s.committed) <= {"realtime"} for s in api.event_log.status())
