"""The recommender benchmarks' own logic: the freshness probe, the wrk script, data subsets.

The benchmarks run under `make bench`; these tests check the parts that decide what a figure
means: when a probe counts as visible, which URLs wrk cycles through, which events EASE's subset
keeps, and that the load generator keeps its schedule.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from benchmarks.recdata import FULL, QUICK, DataSize, PreparedData
from benchmarks.recload import RecLoadSpec, contains_item, first_item, run_load
from benchmarks.recommend import get_script, memory_mb, sample_users
from benchmarks.rectrain import top_items_subset
from hypothesis import given
from hypothesis import strategies as st


def body(*items: str) -> bytes:
    return orjson.dumps({"items": [{"item_id": i, "score": 1.0} for i in items]})


def test_probe_reads_the_first_item_and_sees_it_leave() -> None:
    assert first_item(body("a", "b")) == "a"
    assert first_item(body()) is None
    assert contains_item(body("b", "a"), "a")
    assert not contains_item(body("b", "c"), "a")
    assert not contains_item(body("ab"), "a")  # whole ids, not substrings


def test_get_script_cycles_every_path(tmp_path: Path) -> None:
    paths = [f"/v1/recommendations/user-{k}?n=10" for k in range(3)]
    text = get_script(tmp_path / "get.lua", paths).read_text()
    assert all(f'"{p}",' in text for p in paths)
    assert 'wrk.format("GET", paths[(n % #paths) + 1])' in text


def test_memory_of_this_process_is_positive_and_peak_is_not_below_now() -> None:
    mem = memory_mb(os.getpid())
    assert 0 < mem["VmRSS"] <= mem["VmHWM"]


@given(st.integers(1, 300), st.integers(0, 10_000))
def test_sampled_users_are_distinct_and_exist(count: int, seed: int) -> None:
    data = PreparedData(Path("unused"), DataSize(items=10, users=300, events=10), {})
    users = sample_users(data, count, seed)
    assert len(set(users)) == count
    assert all(0 <= int(u.removeprefix("user-")) < 300 for u in users)
    assert users == sample_users(data, count, seed)


def test_cache_keys_differ_by_size() -> None:
    assert FULL.key != QUICK.key
    assert FULL.items == 100_000 and FULL.events == 1_000_000


def test_subset_keeps_every_event_of_the_most_frequent_items() -> None:
    items = ["a"] * 5 + ["b"] * 3 + ["c"] * 1 + ["d"] * 4
    table = pa.table({"item_id": items, "user_id": [f"u{k}" for k in range(len(items))]})
    subset = top_items_subset(table, 2)
    assert sorted(subset.column("item_id").to_pylist()) == ["a"] * 5 + ["d"] * 4


@pytest.fixture
def shop_server() -> Iterator[int]:
    """A tiny HTTP/1.1 server: recommendations are [x, y] until a purchase of x is posted."""
    loop = asyncio.new_event_loop()
    bought: set[tuple[str, str]] = set()

    def answer(status: str, payload: bytes) -> bytes:
        return f"HTTP/1.1 {status}\r\ncontent-length: {len(payload)}\r\n\r\n".encode() + payload

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                at = lower.find(b"content-length:")
                if at < 0:
                    user = head.split(b" ")[1].split(b"/")[3].split(b"?")[0].decode()
                    items = [i for i in ("x", "y") if (user, i) not in bought]
                    writer.write(answer("200 OK", body(*items)))
                    continue
                raw = await reader.readexactly(int(lower[at + 15 : lower.index(b"\r\n", at)]))
                event = orjson.loads(raw)
                if event.get("event_type") == "purchase":
                    bought.add((event["user_id"], event["item_id"]))
                writer.write(answer("202 Accepted", b"{}"))
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield int(server.sockets[0].getsockname()[1])

    async def shutdown() -> None:
        server.close()
        handlers = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in handlers:
            task.cancel()
        await asyncio.gather(*handlers, return_exceptions=True)

    asyncio.run_coroutine_threadsafe(shutdown(), loop).result(5)
    loop.call_soon_threadsafe(loop.stop)
    thread.join(5)
    loop.close()


def test_freshness_probes_purchase_the_first_item_and_time_its_removal(
    shop_server: int, tmp_path: Path
) -> None:
    users = tmp_path / "users.txt"
    users.write_text("u1\nu2\nu3\n")
    spec = RecLoadSpec(port=shop_server, tracking_id="t", rate=200, seconds=0.3,
                       users_file=str(users), mode="freshness", connections=2,
                       probe_every=20, poll_connections=2, items=10)  # fmt: skip
    result = run_load(spec)
    assert result["statuses"] == {"202": 60}
    assert len(result["freshness_ms"]) == 3  # 60 events, a probe every 20th: u1, u2, u3
    assert result["unseen"] == 0 and result["probes_skipped"] == 0
    assert all(ms >= 0 for ms in result["freshness_ms"])


def test_get_mode_sends_the_whole_schedule(shop_server: int, tmp_path: Path) -> None:
    users = tmp_path / "users.txt"
    users.write_text("u1\nu2\n")
    spec = RecLoadSpec(port=shop_server, tracking_id="t", rate=400, seconds=0.5,
                       users_file=str(users), connections=4)  # fmt: skip
    result = run_load(spec)
    assert result["statuses"] == {"200": 200}
    assert result["wall_s"] >= 0.49
    assert len(result["latencies_ms"]) == 200
