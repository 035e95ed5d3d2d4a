"""The benchmark harness's own logic: statistics, wrk parsing, reports, the open-loop generator.

The benchmarks themselves are run by `make bench`, not here; these tests keep the pieces that turn
measurements into RESULTS.md honest (a wrong percentile or a misread wrk line would go unnoticed).
"""

from __future__ import annotations

import asyncio
import statistics
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from benchmarks.harness import Goal, Section, Stat, percentile
from benchmarks.loadgen import LoadSpec, run_load
from benchmarks.report import (
    GENERATED,
    load_section,
    render,
    render_section,
    save_section,
    write_results,
)
from benchmarks.run import all_benchmarks, select
from benchmarks.wrk import parse_wrk, post_script
from hypothesis import given
from hypothesis import strategies as st

WRK_OUTPUT = """\
Running 5s test @ http://127.0.0.1:18123/v1/events
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    21.62ms   31.62ms 162.89ms   87.90%
    Req/Sec     1.47k     0.97k    4.24k    66.67%
  Latency Distribution
     50%  635.91us
     75%   20.00ms
     90%   50.00ms
     99%    1.20s
  6978 requests in 5.04s, 1.35MB read
  Socket errors: connect 0, read 2, write 0, timeout 1
  Non-2xx or 3xx responses: 5
Requests/sec:   1383.18
Transfer/sec:    274.21KB
"""

samples = st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=50)


@given(samples, st.floats(0, 100))
def test_percentile_lies_between_min_and_max(values: list[float], q: float) -> None:
    assert min(values) <= percentile(values, q) <= max(values)


@given(samples)
def test_percentile_50_is_the_median_and_ends_are_extremes(values: list[float]) -> None:
    assert percentile(values, 50) == pytest.approx(statistics.median(values))
    assert percentile(values, 0) == min(values)
    assert percentile(values, 100) == max(values)


def test_stat_reports_median_spread_and_iqr() -> None:
    stat = Stat((5.0, 1.0, 3.0, 2.0, 4.0))
    assert (stat.median, stat.low, stat.high, stat.iqr) == (3.0, 1.0, 5.0, (2.0, 4.0))


def test_goals_compare_in_their_direction() -> None:
    assert Goal(">=", 10).met(10) and not Goal(">=", 10).met(9.9)
    assert Goal("<", 20).met(19.9) and not Goal("<", 20).met(20)


def test_parse_wrk_reads_rate_errors_and_percentiles() -> None:
    result = parse_wrk(WRK_OUTPUT)
    assert result.requests_per_s == 1383.18
    assert result.requests == 6978
    assert result.non_2xx == 5
    assert result.socket_errors == 3
    assert result.p50_ms == pytest.approx(0.63591)
    assert result.p99_ms == pytest.approx(1200.0)


def test_parse_wrk_refuses_output_it_cannot_read() -> None:
    with pytest.raises(RuntimeError, match="cannot read wrk output"):
        parse_wrk("unable to connect to 127.0.0.1:1 Connection refused")


def test_post_script_cycles_every_body(tmp_path: Path) -> None:
    script = post_script(tmp_path / "s.lua", [b'{"a":1}', b'{"b":2}'], {"X-Tracking-Id": "t"})
    text = script.read_text()
    assert 'wrk.headers["X-Tracking-Id"] = "t"' in text
    assert '[==[{"a":1}]==]' in text and '[==[{"b":2}]==]' in text
    with pytest.raises(ValueError, match="Lua long string"):
        post_script(tmp_path / "bad.lua", [b'"]==]"'], {})


def sample_section() -> Section:
    section = Section("demo.figure", "Demo")
    section.add("raw (limit)", "events/s", [100.0, 200.0, 300.0], is_limit=True)
    section.add(
        "served", "events/s", [50.0, 100.0, 150.0], goal=Goal(">=", 120), limit="raw (limit)"
    )
    section.method.append("how it was measured")
    return section


def test_section_survives_a_json_round_trip(tmp_path: Path) -> None:
    section = sample_section()
    assert load_section(save_section(section, tmp_path)) == section


def test_render_shows_goal_verdict_and_ratio_to_the_limit() -> None:
    text = render("# Header", [sample_section()], "test machine")
    row = next(line for line in text.splitlines() if line.startswith("| served"))
    assert "100 events/s" in row and ">= 120 events/s" in row
    assert "**no**" in row and "50% of the limit" in row


def test_write_results_keeps_the_hand_written_header(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    results.write_text(f"# Mine\n\nkept text\n\n{GENERATED}\n\nold tables\n")
    write_results(results, [sample_section()])
    text = results.read_text()
    assert text.startswith("# Mine\n\nkept text") and "old tables" not in text
    assert "| served |" in text


def test_write_results_keeps_blocks_other_tools_maintain(tmp_path: Path) -> None:
    results = tmp_path / "RESULTS.md"
    block = "<!-- bench-cluster:begin -->\n## Cluster\n\n| a |\n<!-- bench-cluster:end -->"
    results.write_text(f"# Mine\n\n{GENERATED}\n\nold tables\n\n{block}\n")
    write_results(results, [sample_section()])
    write_results(results, [sample_section()])
    text = results.read_text()
    assert text.count(block) == 1 and "old tables" not in text and "| served |" in text


def test_pending_section_says_so_without_a_table() -> None:
    section = Section("demo.pending", "Pending one", pending="not written yet")
    text = render("", [section], "m")
    assert "**Pending:** not written yet." in text and "| figure |" not in text


def test_only_selects_by_name_or_dotted_prefix() -> None:
    benchmarks = all_benchmarks()
    names = {b.name for b in select(benchmarks, ["ingest"])}
    assert {"ingest.batched", "ingest.single", "ingest.freshness", "ingest.import"} <= names
    assert [b.name for b in select(benchmarks, ["ingest.single"])] == ["ingest.single"]
    with pytest.raises(SystemExit, match="no benchmark matches"):
        select(benchmarks, ["nope"])


def _serve_202(close_every: int = 0) -> Iterator[int]:
    """A minimal HTTP/1.1 server answering every request with 202 (keep-alive); with
    ``close_every``, each connection's answer of that number says ``Connection: close`` and the
    connection ends, as ``keepalive_requests`` does."""
    loop = asyncio.new_event_loop()
    answer = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\n\r\n{}"
    last = b"HTTP/1.1 202 Accepted\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}"

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        answered = 0
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lower = head.lower()
                at = lower.find(b"content-length:")
                if at >= 0:
                    await reader.readexactly(int(lower[at + 15 : lower.index(b"\r\n", at)]))
                answered += 1
                if answered == close_every:
                    writer.write(last)
                    await writer.drain()
                    writer.close()
                    return
                writer.write(answer)
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()

    server = loop.run_until_complete(asyncio.start_server(handle, "127.0.0.1", 0))
    port = server.sockets[0].getsockname()[1]
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    yield port

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


@pytest.fixture
def accepting_server() -> Iterator[int]:
    yield from _serve_202()


@pytest.fixture
def closing_server() -> Iterator[int]:
    yield from _serve_202(close_every=3)


def test_open_loop_sends_the_whole_schedule(accepting_server: int) -> None:
    spec = LoadSpec(port=accepting_server, tracking_id="t", rate=400, seconds=0.5, connections=4)
    result = run_load(spec)
    assert result["statuses"] == {"202": 200}
    assert len(result["latencies_ms"]) == len(result["send_lag_ms"]) == 200
    assert result["wall_s"] >= 0.49  # the schedule is spread over the time, not sent at once
    assert all(latency >= 0 for latency in result["latencies_ms"])


def test_open_loop_reconnects_after_connection_close(closing_server: int) -> None:
    spec = LoadSpec(port=closing_server, tracking_id="t", rate=400, seconds=0.5, connections=4)
    result = run_load(spec)
    assert result["statuses"] == {"202": 200}
    assert result["errors"] == 0


def test_a_met_goal_still_names_the_runs_that_missed_it() -> None:
    section = Section("x", "X")
    section.add("p99", "ms", [10.0, 12.0, 64.0, 11.0, 63.0], goal=Goal("<", 15.0))
    section.add("rate", "req/s", [900.0, 2500.0, 2600.0], goal=Goal(">=", 2000.0))
    section.add("clean", "req/s", [2100.0, 2200.0], goal=Goal(">=", 2000.0))
    rows = {line.split(" | ")[0]: line for line in render_section(section) if line.startswith("| ")}
    assert "**yes** (2 of 5 runs miss; worst 64.0 ms)" in rows["| p99"]
    assert "**yes** (1 of 3 runs miss; worst 900 req/s)" in rows["| rate"]
    assert "**yes** |" in rows["| clean"] and "miss" not in rows["| clean"]
