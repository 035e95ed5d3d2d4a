"""Ingestion benchmarks (issue 2): batched and single-event POSTs, ack latency, freshness.

Each benchmark starts its own ``streamrec serve`` on an empty data directory (so no backlog of an
earlier one slows it), drives it from other processes (wrk, ``benchmarks.loadgen``), and measures
the limit it is to be read against in the same run, interleaved with the figure repetition by
repetition so that the machine's noise falls on both alike.
"""

from __future__ import annotations

import random
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from benchmarks.common import batch_bodies, batch_events, run_loadgen, single_bodies
from benchmarks.harness import Benchmark, Context, Goal, Section, percentile
from benchmarks.loadgen import LoadSpec
from benchmarks.server import TRACKING_ID, StreamrecServer
from benchmarks.wrk import post_script, run_wrk
from streamrec.events import Event, validate_event
from streamrec.stream.sqlite import SqliteEventLog

__all__ = ["BENCHMARKS"]

BATCH_SIZE = 500
BATCH_CLIENTS = 4
SATURATION_CONNECTIONS = 32
FIXED_RATE = 1000.0
# history and realtime commit every second; the lake only when it writes a file (60 s).
CAUGHT_UP_GROUPS = ("history", "realtime")
POST_HEADERS = {"Content-Type": "application/json", "X-Tracking-Id": TRACKING_ID}


def raw_append_rate(path: Path, batches: list[list[Event]], seconds: float) -> float:
    """Events/s of SqliteEventLog.append of 500-event batches, one after another, in-process."""
    log = SqliteEventLog(path, shard_count=1)
    try:
        log.append(batches[0])  # schema and first page allocations out of the timing
        appended = 0
        start = time.perf_counter()
        while time.perf_counter() - start < seconds:
            batch = batches[appended // BATCH_SIZE % len(batches)]
            log.append(batch)
            appended += len(batch)
        return appended / (time.perf_counter() - start)
    finally:
        log.close()


def event_batches(count: int, seed: int) -> list[list[Event]]:
    rng = random.Random(seed)
    return [[validate_event(raw) for raw in batch_events(BATCH_SIZE, rng)] for _ in range(count)]


def run_batched(ctx: Context) -> Section:
    section = Section("ingest.batched", "Batched ingest: 500 events a request, 4 clients")
    events = event_batches(8, seed=1)
    script = post_script(
        ctx.scratch("wrk") / "batch.lua", batch_bodies(16, BATCH_SIZE, 2), POST_HEADERS
    )
    served: list[float] = []
    raw: list[float] = []
    catch_up: list[float] = []
    errors = 0
    with StreamrecServer(ctx.scratch("server-batched")) as server:
        run_wrk(server.base_url + "/v1/events", 1, BATCH_CLIENTS, 2, script)  # warm-up
        server.wait_for_consumers(CAUGHT_UP_GROUPS, 30)
        for rep in range(ctx.reps):
            raw.append(raw_append_rate(ctx.scratch("raw") / "stream.db", events, ctx.seconds))
            result = run_wrk(server.base_url + "/v1/events", ctx.seconds, BATCH_CLIENTS, 2, script)
            served.append(result.requests_per_s * BATCH_SIZE)
            errors += result.non_2xx + result.socket_errors
            if rep < ctx.reps - 1 or not ctx.quick:
                catch_up.append(server.wait_for_consumers(CAUGHT_UP_GROUPS, 60))
    section.add(
        "raw SqliteEventLog.append, 500-event batches (limit)", "events/s", raw, is_limit=True
    )
    section.add(
        "POST /v1/events, 500 events a request, 4 clients",
        "events/s",
        served,
        goal=Goal(">=", 50_000),
        limit="raw SqliteEventLog.append, 500-event batches (limit)",
    )
    section.add("consumers (history, realtime) catching up after a repetition", "s", catch_up)
    section.method += [
        f"wrk -t2 -c{BATCH_CLIENTS} -d{ctx.seconds:.0f}s, 16 distinct bodies of {BATCH_SIZE}"
        " events (100,000 users, 10,000 items), server-assigned event ids; events/s = 202"
        f" answers/s x {BATCH_SIZE}.",
        "Limit: SqliteEventLog.append of 500-event batches in a loop in the harness process"
        " (one transaction, one fsync each; synchronous=FULL, WAL), run just before each wrk run.",
        "The server is `streamrec serve`: API workers (one per core) and a process per consumer"
        " group; between"
        " repetitions the harness waits for history and realtime to catch up (time shown).",
    ]
    section.notes.append(f"non-2xx answers and socket errors over all repetitions: {errors}")
    return section


def single_rep(
    server: StreamrecServer, ctx: Context, script: Path, into: defaultdict[str, list[float]]
) -> int:
    """One repetition: /healthz and POST saturation, then latency at the fixed rate; errors."""
    health = run_wrk(server.base_url + "/healthz", ctx.seconds, SATURATION_CONNECTIONS)
    post = run_wrk(server.base_url + "/v1/events", ctx.seconds, SATURATION_CONNECTIONS, 1, script)
    into["empty"].append(health.requests_per_s)
    into["posts"].append(post.requests_per_s)
    server.wait_for_consumers(CAUGHT_UP_GROUPS, 30)
    result = fixed_rate(server, ctx.seconds, "ack")
    into["p50"].append(percentile(result["latencies_ms"], 50))
    into["p99"].append(percentile(result["latencies_ms"], 99))
    into["send_lag_p99"].append(percentile(result["send_lag_ms"], 99))
    not_202: int = sum(n for code, n in result["statuses"].items() if code != "202")
    return health.non_2xx + post.non_2xx + post.socket_errors + int(result["errors"]) + not_202


def run_single(ctx: Context) -> Section:
    section = Section("ingest.single", "Single-event POSTs: saturation and latency at 1,000/s")
    script = post_script(ctx.scratch("wrk") / "single.lua", single_bodies(1024, 3), POST_HEADERS)
    got: defaultdict[str, list[float]] = defaultdict(list)
    errors = 0
    with StreamrecServer(ctx.scratch("server-single")) as server:
        run_wrk(server.base_url + "/v1/events", 1, SATURATION_CONNECTIONS, 1, script)  # warm-up
        fixed_rate(server, 1.0, "ack")
        for _ in range(ctx.reps):
            errors += single_rep(server, ctx, script, got)
    limit = "GET /healthz, same server (limit)"
    section.add(limit, "req/s", got["empty"], is_limit=True)
    section.add("POST /v1/events, one event, saturation", "req/s", got["posts"],
                goal=Goal(">=", 3000), limit=limit)  # fmt: skip
    section.add("ack latency p50 at 1,000 req/s", "ms", got["p50"])
    section.add("ack latency p99 at 1,000 req/s", "ms", got["p99"], goal=Goal("<", 20))
    section.method += [
        f"Saturation: wrk -t1 -c{SATURATION_CONNECTIONS} -d{ctx.seconds:.0f}s, GET /healthz then"
        " POST /v1/events (1,024 distinct single-event bodies) in each repetition.",
        f"Latency: benchmarks/loadgen.py, open loop at {FIXED_RATE:,.0f} req/s over 64 keep-alive"
        f" connections for {ctx.seconds:.0f} s; latency from each request's intended send time to"
        " the end of its 202 (no coordinated omission).",
    ]
    section.notes += [
        f"errors (non-2xx, socket, timeouts) over all repetitions: {errors}",
        "load generator's own send lag (intended send time to hand-out), worst p99 over"
        f" repetitions: {max(got['send_lag_p99']):.1f} ms",
    ]
    return section


def fixed_rate(server: StreamrecServer, seconds: float, mode: str) -> dict[str, Any]:
    spec = LoadSpec(
        port=server.port,
        tracking_id=TRACKING_ID,
        rate=FIXED_RATE,
        seconds=seconds,
        mode=mode,
        seed=int(time.time() * 1000) % 1_000_000,
    )
    return run_loadgen(spec)


def run_freshness(ctx: Context) -> Section:
    section = Section("ingest.freshness", "Freshness: 202 to visible in the history API")
    p50: list[float] = []
    p99: list[float] = []
    ack99: list[float] = []
    pooled: list[float] = []
    unseen = polls = 0
    with StreamrecServer(ctx.scratch("server-freshness")) as server:
        fixed_rate(server, 1.0, "freshness")  # warm-up
        for _ in range(ctx.reps):
            result = fixed_rate(server, ctx.seconds, "freshness")
            fresh = result["freshness_ms"]
            pooled += fresh
            p50.append(percentile(fresh, 50))
            p99.append(percentile(fresh, 99))
            ack99.append(percentile(result["latencies_ms"], 99))
            unseen += result["unseen"]
            polls += result["polls"]
    section.add("202 -> visible in GET /v1/users/{id}/history, p50", "ms", p50)
    section.add("202 -> visible in GET /v1/users/{id}/history, p99", "ms", p99, goal=Goal("<", 100))
    section.add("ack latency p99 during the same load", "ms", ack99)
    probes = LoadSpec(0, "", 0, 0).probe_every
    section.method.append(
        f"benchmarks/loadgen.py, open loop at {FIXED_RATE:,.0f} single-event POSTs/s; every"
        f" {probes}th event is for a fresh user; after its 202 that user's history is polled every"
        " 5 ms until the item shows; the figure runs from the 202 to the end of that answer."
    )
    if pooled:
        section.notes.append(
            f"all {len(pooled)} probes pooled: p50 {percentile(pooled, 50):.1f} ms, p99"
            f" {percentile(pooled, 99):.1f} ms, max {max(pooled):.1f} ms; {polls} history polls;"
            f" not visible within 5 s: {unseen}"
        )
    return section


BENCHMARKS = (
    Benchmark("ingest.batched", "batched ingest vs raw append", run_batched),
    Benchmark("ingest.single", "single-event POSTs vs empty endpoint", run_single),
    Benchmark("ingest.freshness", "ack to visible in history", run_freshness),
)
