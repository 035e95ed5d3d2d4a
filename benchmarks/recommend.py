"""Recommender benchmarks (issue 3): request latency and saturation, freshness, training, memory.

Every benchmark works on a private copy of a prepared data directory (100,000-item catalogue,
1,000,000 generated interactions imported through the stream, the default recipe ``hybrid``
trained and activated; see :mod:`benchmarks.recdata`), starts ``streamrec serve`` on it and drives it
from other processes (wrk, :mod:`benchmarks.recload`). The limits are measured in the same run,
repetition by repetition, so the shared machine's noise falls on both sides of a ratio alike:
the in-process request path (:mod:`benchmarks.recinproc`) for the HTTP figures.

Training runs in a child process on the same lake (:mod:`benchmarks.rectrain`).
"""

from __future__ import annotations

import random
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.common import run_module
from benchmarks.harness import Benchmark, Context, Goal, Section, percentile
from benchmarks.recdata import FULL, QUICK, SERVED_RECIPE, PreparedData, prepare
from benchmarks.recinproc import InProcessLimit
from benchmarks.recload import RecLoadSpec, run_child
from benchmarks.server import TRACKING_ID, StreamrecServer
from benchmarks.wrk import run_wrk

__all__ = ["BENCHMARKS"]

N = 10  # items per recommendation request
FIXED_RATE = 500.0
FRESHNESS_RATE = 1000.0
PROBE_EVERY = 50
SATURATION_CONNECTIONS = 32
LATENCY_USERS = 2000
LIMIT_USERS = 500  # users timed in-process per repetition
START_ATTEMPTS = 3
SERVER_START_S = 300.0  # loading a 100,000-item model and catalogue index on a busy machine
RECIPES = ("popularity", "trending", "item-knn", "als", "ease", "hybrid")
CAUGHT_UP_GROUPS = ("history", "realtime")
HEALTHZ = "GET /healthz saturation, same server: the HTTP stack alone (limit)"


def prepared_data(ctx: Context) -> PreparedData:
    return prepare(QUICK if ctx.quick else FULL)


def sample_users(data: PreparedData, count: int, seed: int) -> list[str]:
    """Distinct users of the generated data (every one has events and is known to the model)."""
    rng = random.Random(seed)
    return [f"user-{u}" for u in rng.sample(range(data.size.users), count)]


def write_lines(path: Path, lines: Sequence[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def get_script(path: Path, paths: Sequence[str]) -> Path:
    """A wrk Lua script that GETs the given paths in turn."""
    lines = ["local paths = {", *(f'  "{p}",' for p in paths), "}", "local n = 0"]
    lines += [
        "function request()",
        "  n = n + 1",
        '  return wrk.format("GET", paths[(n % #paths) + 1])',
        "end",
    ]
    path.write_text("\n".join(lines) + "\n")
    return path


def memory_mb(pid: int) -> dict[str, float]:
    """The process's resident set now (VmRSS) and at its peak so far (VmHWM), in MB."""
    fields: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def started_server(ctx: Context, data: PreparedData, name: str) -> StreamrecServer:
    """``streamrec serve`` on a fresh copy of the prepared data directory."""
    root = ctx.scratch(name)
    data.copy_to(root)
    for attempt in range(START_ATTEMPTS):
        server = StreamrecServer(root)
        try:
            server.start(timeout_s=SERVER_START_S)
            return server
        except RuntimeError as exc:
            # the port was free when picked, but loading the model takes long enough on a
            # shared machine for another process to take it before the server binds
            if "address already in use" not in str(exc) or attempt == START_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def recload(server: StreamrecServer, users_file: Path, **kw: Any) -> dict[str, Any]:
    spec = RecLoadSpec(port=server.port, tracking_id=TRACKING_ID, users_file=str(users_file), **kw)
    return run_child(spec)


# -- GET /v1/recommendations: latency, saturation, the in-process limit -------------------------


def latency_rep(
    ctx: Context, server: StreamrecServer, limit: InProcessLimit, files: tuple[Path, Path]
) -> tuple[dict[str, float], int]:
    """One repetition: the in-process limit, wrk saturation, then the fixed rate; errors."""
    got = dict(limit.measure())
    health = run_wrk(server.base_url + "/healthz", ctx.seconds, SATURATION_CONNECTIONS)
    got["healthz"] = health.requests_per_s
    sat = run_wrk(server.base_url + "/", ctx.seconds, SATURATION_CONNECTIONS, 1, files[1])
    got["saturation"] = sat.requests_per_s
    load = recload(server, files[0], rate=FIXED_RATE, seconds=ctx.seconds, n=N)
    got["p50"] = percentile(load["latencies_ms"], 50)
    got["p99"] = percentile(load["latencies_ms"], 99)
    got["send_lag_p99"] = percentile(load["send_lag_ms"], 99)
    got["rss_peak"] = memory_mb(server.pid)["VmHWM"]
    not_200 = sum(n for code, n in load["statuses"].items() if code != "200")
    return got, sat.non_2xx + sat.socket_errors + int(load["errors"]) + not_200


def run_latency(ctx: Context) -> Section:
    section = Section(
        "recommend.latency", "GET /v1/recommendations: latency at 500 req/s, saturation"
    )
    data = prepared_data(ctx)
    users = sample_users(data, LATENCY_USERS, seed=5)
    work = ctx.scratch("rec-latency-files")
    paths = [f"/v1/recommendations/{u}?n={N}" for u in users]
    files = (write_lines(work / "users.txt", users), get_script(work / "get.lua", paths))
    got: defaultdict[str, list[float]] = defaultdict(list)
    errors = 0
    server = started_server(ctx, data, "rec-latency")
    try:
        start_rss = memory_mb(server.pid)["VmRSS"]
        limit = InProcessLimit(server.data_dir / "data", users[:LIMIT_USERS], N)
        run_wrk(server.base_url + "/", 1, SATURATION_CONNECTIONS, 1, files[1])  # warm-up
        recload(server, files[0], rate=FIXED_RATE, seconds=1.0, n=N)
        for _ in range(ctx.reps):
            rep, rep_errors = latency_rep(ctx, server, limit, files)
            errors += rep_errors
            for key, value in rep.items():
                got[key].append(value)
        limit.close()
    finally:
        server.stop()
    describe_latency(section, ctx, data, got, errors, start_rss)
    return section


def describe_latency(
    section: Section,
    ctx: Context,
    data: PreparedData,
    got: dict[str, list[float]],
    errors: int,
    start_rss: float,
) -> None:
    score = f"model.score of one user's history, in-process, p50 ({SERVED_RECIPE}) (limit)"
    path = "RecommendationService.recommend + decorate, in-process, p50 (limit)"
    per_s = "the same in-process calls, one after another on one thread (limit)"
    section.add(score, "ms", got["score_p50_ms"], is_limit=True)
    one = f"model.recommend_user (one-user path, top {N}) of the same histories, p50 (limit)"
    section.add(one, "ms", got["one_user_p50_ms"], is_limit=True)
    section.add(path, "ms", got["recommend_p50_ms"], is_limit=True)
    section.add(f"GET p50 at {FIXED_RATE:,.0f} req/s", "ms", got["p50"], goal=Goal("<", 3),
                limit=path)  # fmt: skip
    section.add(f"GET p99 at {FIXED_RATE:,.0f} req/s", "ms", got["p99"], goal=Goal("<", 15),
                limit=path)  # fmt: skip
    section.add(per_s, "calls/s", got["recommend_per_s"], is_limit=True)
    section.add(HEALTHZ, "req/s", got["healthz"], is_limit=True)
    section.add("GET saturation (wrk)", "req/s", got["saturation"], goal=Goal(">=", 2000),
                limit=per_s)  # fmt: skip
    section.add("serving process peak RSS (VmHWM) after each repetition", "MB", got["rss_peak"])
    section.method += [
        f"Data: {data.size.label} (streamrec.synthetic, seed 11), imported with `streamrec"
        f" import`, catalogue with `streamrec import-items`; model: `streamrec train --recipe"
        f" {SERVED_RECIPE} --activate` (the default recipe; with this many items its base is"
        " sparse item-kNN, EASE only up to 8,000). `streamrec serve` with default settings on a"
        " copy of that data dir (all consumer groups running).",
        f"Requests: GET /v1/recommendations/{{user}}?n={N} over {LATENCY_USERS:,} distinct known"
        " users (each with their real history in the user-state store); answers carry catalogue"
        " metadata.",
        f"Latency: benchmarks/recload.py in its own process, open loop at {FIXED_RATE:,.0f} req/s"
        f" over 32 keep-alive connections for {ctx.seconds:.0f} s; latency from each request's"
        f" intended send time to the end of its answer. Saturation: wrk -t1"
        f" -c{SATURATION_CONNECTIONS} -d{ctx.seconds:.0f}s cycling over the same URLs, after"
        " the same wrk run against GET /healthz (an empty endpoint).",
        f"Limits, in the harness process before each repetition, for {LIMIT_USERS} of those users"
        " on the same data dir with one BLAS thread (as serve): model.score alone (the batch path),"
        " model.recommend_user (the one-user path a request takes), and the whole"
        " request path without HTTP (user-state read, fold-in, stream co-occurrence, exclusions,"
        " top-n, metadata); calls/s = calls / their summed wall time.",
    ]
    saturation = statistics.median(got["saturation"])
    if saturation < FIXED_RATE:
        section.notes.append(
            f"{FIXED_RATE:,.0f} req/s is above this server's measured saturation"
            f" ({saturation:,.0f} req/s): requests queue, so the fixed-rate latencies are mostly"
            " waiting time and grow with the length of the run."
        )
    section.notes += [
        f"errors (non-2xx, socket, timeouts) over all repetitions: {errors}",
        f"serving process RSS right after start-up: {start_rss:,.0f} MB; median events per"
        f" user history scored: {got['history_events_p50'][0]:.0f}",
        "load generator's own send lag (intended send to hand-out), worst p99 over repetitions:"
        f" {max(got['send_lag_p99']):.1f} ms",
    ]


# -- freshness: event accepted -> visible in the user's recommendations -------------------------


def run_freshness(ctx: Context) -> Section:
    section = Section("recommend.freshness", "Freshness: 202 to visible in GET /v1/recommendations")
    data = prepared_data(ctx)
    probes = int(FRESHNESS_RATE * ctx.seconds) // PROBE_EVERY + 1
    users = sample_users(data, probes * (ctx.reps + 1), seed=6)
    work = ctx.scratch("rec-fresh-files")
    got: defaultdict[str, list[float]] = defaultdict(list)
    pooled: list[float] = []
    counts: defaultdict[str, int] = defaultdict(int)
    spec = {"rate": FRESHNESS_RATE, "mode": "freshness", "n": N, "probe_every": PROBE_EVERY,
            "items": data.size.items}  # fmt: skip
    server = started_server(ctx, data, "rec-freshness")
    try:
        warm = write_lines(work / "warm.txt", users[:probes])
        recload(server, warm, seconds=1.0, seed=0, **spec)
        for rep in range(ctx.reps):
            chunk = users[(rep + 1) * probes : (rep + 2) * probes]
            file = write_lines(work / f"probes-{rep}.txt", chunk)
            server.wait_for_consumers(CAUGHT_UP_GROUPS, 30)
            result = recload(server, file, seconds=ctx.seconds, seed=rep + 1, **spec)
            fresh = result["freshness_ms"]
            pooled += fresh
            got["p50"].append(percentile(fresh, 50))
            got["p99"].append(percentile(fresh, 99))
            got["ack_p99"].append(percentile(result["latencies_ms"], 99))
            for key in ("unseen", "polls", "probes_skipped", "errors"):
                counts[key] += int(result[key])
        rss = memory_mb(server.pid)
    finally:
        server.stop()
    describe_freshness(section, ctx, got, pooled, counts, rss)
    return section


def describe_freshness(
    section: Section,
    ctx: Context,
    got: dict[str, list[float]],
    pooled: list[float],
    counts: dict[str, int],
    rss: dict[str, float],
) -> None:
    section.add("202 -> visible in the user's recommendations, p50", "ms", got["p50"])
    section.add("202 -> visible in the user's recommendations, p99", "ms", got["p99"],
                goal=Goal("<", 100))  # fmt: skip
    section.add("POST /v1/events ack latency p99 during the same load", "ms", got["ack_p99"])
    section.method += [
        f"benchmarks/recload.py in its own process: open loop at {FRESHNESS_RATE:,.0f} single-event"
        f" POSTs/s for {ctx.seconds:.0f} s (background users of their own, catalogue items, mixed"
        f" event types); every {PROBE_EVERY}th event is a probe for a distinct known user.",
        "Probe: before the clock starts, the user's first recommended item X is read; the probe"
        " event is a purchase of X, and purchases are excluded from recommendations (seen items),"
        " so X must disappear. After the 202 the user's GET /v1/recommendations?n=10 is polled"
        " every 5 ms; the figure runs from the 202 to the end of the first answer without X. It"
        " spans the stream append, the realtime consumer's poll and write of the user state, and"
        " one recommendation request.",
    ]
    if pooled:
        section.notes.append(
            f"all {len(pooled)} probes pooled: p50 {percentile(pooled, 50):.1f} ms, p99"
            f" {percentile(pooled, 99):.1f} ms, max {max(pooled):.1f} ms; {counts['polls']}"
            f" recommendation polls; not visible within 5 s: {counts['unseen']}; probe users with"
            f" no recommendation to remove: {counts['probes_skipped']}; errors: {counts['errors']}"
        )
    section.notes.append(
        f"serving process RSS at the end: {rss['VmRSS']:,.0f} MB, peak (VmHWM) {rss['VmHWM']:,.0f}"
        " MB"
    )


# -- training time of each recipe ---------------------------------------------------------------


def run_training(ctx: Context) -> Section:
    section = Section("recommend.training", "Training time of each recipe")
    data = prepared_data(ctx)
    subset = 2_000 if ctx.quick else 5_000
    spec = {"data_dir": str(data.data_dir), "recipes": list(RECIPES),
            "reps": min(ctx.reps, 3), "slow_s": 5.0 if ctx.quick else 30.0,
            "ease_subset_items": subset}  # fmt: skip
    result = run_module("benchmarks.rectrain", spec, timeout_s=1800)
    section.add("read the lake (DuckDB) + encode ids", "s", [result["read_s"] + result["encode_s"]])
    for recipe, fit in result["fits"].items():
        label = f"fit {recipe}"
        if "subset" in fit:
            sub = fit["subset"]
            label += f" on a {sub['items']:,}-item subset ({sub['events']:,} events)"
        section.add(label, "s", fit["seconds"])
        if "refused" in fit:
            section.notes.append(f"{recipe} on all {result['items']:,} items: {fit['refused']}")
    section.method += [
        f"benchmarks/rectrain.py in a child process on the prepared lake ({result['events']:,}"
        f" events, {result['users']:,} users, {result['items']:,} items): lake read once, then"
        " model.fit on every event, with the weights and parameters `streamrec train` passes;"
        f" up to {spec['reps']} fits per recipe, a fit over {spec['slow_s']:.0f} s is not"
        f" repeated. BLAS: {result['blas']}.",
        f"EASE on a subset where the catalogue is above its cap: the events of the {subset:,}"
        " most frequent items. The dense n x n inverse grows as n^3, so the default cap of"
        f" 20,000 items would cost about (20,000 / {subset:,})^3 = {(20_000 / subset) ** 3:,.0f}"
        " times that fit (an extrapolation, not measured: too long for `make bench`).",
    ]
    facts = data.facts
    section.notes.append(
        "whole `streamrec train` jobs (lake read, hold-out fit and evaluation, fit on everything,"
        f" save), run once when the data was prepared ({facts.get('prepared_at')}): item-knn"
        f" {facts.get('train_item_knn_s')} s, {SERVED_RECIPE} {facts.get('train_s')} s wall"
    )
    return section


BENCHMARKS = (
    Benchmark("recommend.latency", "recommendation latency, saturation, scoring", run_latency),
    Benchmark("recommend.freshness", "202 to visible in recommendations", run_freshness),
    Benchmark("recommend.training", "training time per recipe", run_training),
)
