"""``make bench-cluster``: the distributed deployment on real servers, on this machine.

- Consumer throughput with 1, 2 and 4 Kafka partitions and as many ``consume history`` processes,
  and the same workload on the embedded default (SQLite stream, one consumer process, which is
  all it allows): consumers are started and joined first, then N events are appended as fast as
  the producer goes, and the figure is N / (time until the group committed the last offset).
- End-to-end freshness on the cluster (Kafka, the cluster's history and user-state stores): a
  probe event for a fresh user is posted to an API process under a steady background load, and
  the time from its 202 to the moment it shows in ``GET /v1/users/{id}/history`` and in the
  user-state store that recommendations read is recorded; p50/p99 per repetition.
- Memory: resident set size of every process of the cluster after the freshness load.
- The API host: one ``serve --roles api`` supervisor with 2 worker processes on one port, driven
  by wrk (4 connections): single-event POSTs (Kafka ``acks=all``) and GET /v1/recommendations for
  users with history (no trained model: stream co-occurrence and popularity).

Each figure is the median over repetitions with min-max; results go to benchmarks/RESULTS.md in
their own section (replaced on each run). ``python -m benchmarks.cluster --quick`` runs less.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import tomli_w

from benchmarks.cluster_report import append_section, process_rss_mb
from benchmarks.harness import Context, Section, percentile
from streamrec.cluster import ClusterPlan, LocalCluster, prepare_stream
from streamrec.config import Settings, settings_as_toml_dict
from streamrec.events import validate_event
from streamrec.stream import open_event_log

RESULTS = Path(__file__).with_name("RESULTS.md")
PARTITIONS = (1, 2, 4)
MEASURED_GROUPS = ("history", "lake")


def _events(n: int, seed: int) -> list[Any]:
    now = time.time()
    return [
        validate_event(
            {
                "user_id": f"u{(i * 7919 + seed) % 5000}",
                "item_id": f"i{i % 2000}",
                "timestamp": now,
            },
            now,
        )
        for i in range(n)
    ]


def _spawn_consumers(
    cluster: LocalCluster, config: Path, group: str, count: int, log: Path
) -> list[Any]:
    env = cluster.child_env({"STREAMREC_CONFIG": str(config)})
    procs = []
    for i in range(count):
        out = (log.parent / f"{log.stem}-{i}.log").open("wb")
        command = [sys.executable, "-m", "streamrec.cli", "consume", group]
        procs.append(subprocess.Popen(command, env=env, stdout=out, stderr=subprocess.STDOUT))
    deadline = time.monotonic() + 120
    for i in range(count):
        path = log.parent / f"{log.stem}-{i}.log"
        while f"consuming group {group}" not in path.read_text(errors="replace"):
            if time.monotonic() > deadline or procs[i].poll() is not None:
                raise RuntimeError(f"consumer did not start: {path.read_text()[-2000:]}")
            time.sleep(0.1)
    return procs


def _drain_rate(
    cluster: LocalCluster, settings: Settings, group: str, consumers: int, n: int, rep: int
) -> float:
    """Events per second through ``consumers`` processes of ``group``."""
    run_dir = Path(settings.data_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    config = run_dir / "streamrec.toml"
    with config.open("wb") as fh:
        tomli_w.dump(settings_as_toml_dict(settings), fh)
    prepare_stream(settings)
    _reset_history(settings)
    procs = _spawn_consumers(cluster, config, group, consumers, run_dir / "consume.log")
    if settings.stream_location.startswith("kafka://"):
        _wait_settled(cluster, settings, group, consumers)
    log = open_event_log(settings)
    try:
        events = _events(n, rep)
        start = time.perf_counter()
        for i in range(0, n, 500):
            log.append(events[i : i + 500])
        while any(s.lag(group) > 0 for s in log.status([group])):
            time.sleep(0.05)
        return n / (time.perf_counter() - start)
    finally:
        log.close()
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=60)


def _wait_settled(
    cluster: LocalCluster, settings: Settings, group: str, members: int, timeout_s: float = 90
) -> None:
    """Wait until the group's rebalance is over and ``members`` members hold the run's topic: a
    member is told it joined after the first round of a cooperative rebalance, possibly with
    nothing yet, and a member of an earlier run may still be leaving."""
    from confluent_kafka import ConsumerGroupState
    from confluent_kafka.admin import AdminClient

    from streamrec.stream.kafka_consumer import kafka_group_id

    topic = settings.stream_location.rsplit("/", 1)[1]
    kafka_group = kafka_group_id(topic, group)
    admin = AdminClient({"bootstrap.servers": cluster.servers.kafka.bootstrap_servers})
    deadline = time.monotonic() + timeout_s
    state = None
    while time.monotonic() < deadline:
        found = admin.describe_consumer_groups([kafka_group])[kafka_group].result(30)
        state = (found.state, [
            sum(tp.topic == topic for tp in m.assignment.topic_partitions) for m in found.members
        ])  # fmt: skip
        holding = [n for n in state[1] if n > 0]
        if found.state == ConsumerGroupState.STABLE and len(holding) == members:
            return
        time.sleep(0.1)
    raise RuntimeError(f"group {group} did not settle with {members} members: {state}")


def _reset_history(settings: Settings) -> None:
    """A shared Redis history keeps per-shard positions: each run's new topic starts at offset 0
    again, so the store is emptied first or it would skip the run's events as already applied."""
    if settings.history_location.startswith("redis://"):
        import redis

        client = redis.Redis.from_url(settings.history_location)
        client.flushdb()
        client.close()


def bench_throughput(ctx: Context, cluster: LocalCluster, group: str, n: int) -> Section:
    section = Section(
        f"cluster-throughput-{group}", f"Consumer throughput, `{group}` group: Kafka vs embedded"
    )
    base = cluster.settings
    assert base is not None
    fast: dict[str, Any] = {"checkpoint_interval_s": 0.1, "lake_flush_interval_s": 0.2}
    for partitions in PARTITIONS:
        rates_kafka, rates_sqlite = [], []
        for rep in range(ctx.reps):
            topic = f"bench-{group}-p{partitions}-r{rep}-{int(time.time())}"
            kafka = Settings(
                **{**_plain(base), **fast, "data_dir": ctx.scratch(f"k{partitions}"),
                   "shard_count": partitions, "stream_url": f"{cluster.servers.kafka.url}/{topic}",
                   "lake_url": f"{base.lake_location}-bench/{topic}"}
            )  # fmt: skip
            rates_kafka.append(_drain_rate(cluster, kafka, group, partitions, n, rep))
            embedded = Settings(
                data_dir=ctx.scratch(f"s{partitions}"), shard_count=partitions, tracking_id="b",
                **fast,
            )  # fmt: skip
            rates_sqlite.append(_drain_rate(cluster, embedded, group, 1, n, rep))
        section.add(f"Kafka, {partitions} partition(s), {partitions} consumer process(es)",
                    "events/s", rates_kafka)  # fmt: skip
        section.add(f"embedded SQLite stream, {partitions} shard(s), 1 consumer process",
                    "events/s", rates_sqlite)  # fmt: skip
    sink = (
        f"history store {base.history_location.split(':')[0]}"
        if group == "history"
        else f"lake on {base.lake_location.split(':')[0]} (Kafka) / local folder (embedded)"
    )
    section.method.append(
        f"{n:,} events appended per run; the group's consumer processes started and joined "
        f"first; rate = events / time until the group committed the last offset; {ctx.reps} "
        f"runs each; {sink}; the machine's 2 cores are shared by broker, consumers and this script"
    )
    return section


def _plain(settings: Settings) -> dict[str, Any]:
    return {k: getattr(settings, k) for k in settings.__dataclass_fields__}


def bench_freshness(ctx: Context, cluster: LocalCluster, probes: int, rate: float) -> Section:
    from benchmarks.cluster_probe import run_probes

    section = Section(
        "cluster-freshness", "End-to-end freshness on Kafka (event accepted -> visible)"
    )
    settings = cluster.settings
    assert settings is not None
    p50h, p99h, p50s, p99s = [], [], [], []
    for rep in range(ctx.reps):
        history, state = run_probes(cluster, probes, rate, seed=rep)
        p50h.append(percentile(history, 50))
        p99h.append(percentile(history, 99))
        p50s.append(percentile(state, 50))
        p99s.append(percentile(state, 99))
    section.add("history (GET /v1/users/{id}/history) p50", "ms", p50h)
    section.add("history p99", "ms", p99h)
    section.add("recommender user state p50", "ms", p50s)
    section.add("recommender user state p99", "ms", p99s)
    section.method.append(
        f"{probes} probes per run under {rate:.0f} events/s of background load on one API "
        f"process; stream {settings.stream_location.split('/')[2]} (Kafka, "
        f"{settings.shard_count} partitions), history {settings.history_location.split(':')[0]}, "
        f"user state {settings.user_state_location.split(':')[0]}; {ctx.reps} runs"
    )
    return section


def bench_api(ctx: Context, cluster: LocalCluster, seconds: float) -> Section:
    from benchmarks.wrk import post_script, run_wrk

    settings = cluster.settings
    assert settings is not None
    workers = cluster.plan.api_workers
    section = Section(
        "cluster-api", f"The API host: one supervisor, {workers} worker processes on one port"
    )
    base = f"http://127.0.0.1:{cluster.plan.port}"
    bodies = [
        json.dumps({"user_id": f"w{i}", "item_id": f"i{i % 500}", "event_type": "view"}).encode()
        for i in range(1024)
    ]
    headers = {"Content-Type": "application/json", "X-Tracking-Id": str(settings.tracking_id)}
    script = post_script(ctx.scratch("wrk") / "post.lua", bodies, headers)
    posts, recs, errors = [], [], 0
    for _ in range(ctx.reps):
        post = run_wrk(f"{base}/v1/events", seconds, connections=4, script=script)
        rec = run_wrk(f"{base}/v1/recommendations/w7?n=10", seconds, connections=4)
        posts.append(post.requests_per_s)
        recs.append(rec.requests_per_s)
        errors += post.non_2xx + post.socket_errors + rec.non_2xx + rec.socket_errors
    section.add("POST /v1/events, one event a request (Kafka acks=all)", "req/s", posts)
    section.add("GET /v1/recommendations/{id}?n=10", "req/s", recs)
    section.method.append(
        f"wrk -t1 -c4 for {seconds:.0f} s each, {ctx.reps} runs, after the freshness load; "
        f"non-2xx and socket errors over all runs: {errors}"
    )
    return section


def memory_section(cluster: LocalCluster) -> Section:
    section = Section("cluster-memory", "Memory (RSS) of each cluster process after the load")
    pids: dict[str, int] = {n: s.pid for n, s in cluster.servers.by_name().items() if s.pid}
    pids.update({n: m.proc.pid for n, m in cluster.members.items() if m.proc is not None})
    for name, pid in pids.items():
        section.add(name, "MiB", [process_rss_mb(pid)])
    section.method.append("VmRSS of the process and its children (PostgreSQL's backends)")
    return section


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    started = time.monotonic()
    sections: list[Section] = []
    with Context.create(args.quick, reps=3) as ctx:
        plan = ClusterPlan(
            directory=ctx.scratch("cluster"), port=_free_pair(), api_count=1, api_workers=2,
            retrain_interval_s=3600.0,  # the job runs (its memory is measured) but stays idle
        )  # fmt: skip
        with LocalCluster(plan) as cluster:
            probes = 30 if args.quick else 100
            sections.append(_timed(partial(bench_freshness, ctx, cluster, probes, 200.0)))
            sections.append(_timed(partial(bench_api, ctx, cluster, 3.0 if args.quick else 8.0)))
            sections.append(memory_section(cluster))
            # The cluster's own consumers would share the measured groups: stop them first.
            for member in cluster.members.values():
                cluster.stop_member(member)
            n = 5000 if args.quick else 40000
            for group in MEASURED_GROUPS:
                sections.append(_timed(partial(bench_throughput, ctx, cluster, group, n)))
    append_section(RESULTS, sections, time.monotonic() - started, quick=args.quick)
    print(RESULTS.read_text())


def _timed(run: Callable[[], Section]) -> Section:
    start = time.monotonic()
    section = run()
    section.wall_s = time.monotonic() - start
    return section


def _free_pair() -> int:
    from streamrec.testing._process import free_port, port_open

    while True:
        port = free_port()
        if port < 65535 and not port_open(port + 1):
            return port


if __name__ == "__main__":
    main()
