"""The local cluster (what ``make run-cluster`` starts) on real servers: two API processes, two
consumer processes per group, Kafka with two partitions; every event is processed once per group,
and a consumer killed with SIGKILL mid-batch resumes from its group's last commit. Attribution
and experiments work across the API processes (figures and definitions in PostgreSQL)."""

from __future__ import annotations

import itertools
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from confluent_kafka import ConsumerGroupState
from confluent_kafka.admin import AdminClient, ConsumerGroupDescription
from fsspec.core import url_to_fs

from streamrec.cluster import (
    ClusterPlan,
    LocalCluster,
    process_start_ticks,
    stop_leftovers,
    write_pid_file,
)
from streamrec.config import Settings, load_settings
from streamrec.lake.reader import LakeReader
from streamrec.stores import open_user_state_store
from streamrec.stream import open_event_log
from streamrec.testing import ServerUnavailableError
from streamrec.testing._process import free_port, port_open
from streamrec.testing.fixtures import in_ci

WAIT_S = 90.0
KILLED = ("consume-lake-0", "consume-history-0", "consume-realtime-0")


def _two_free_ports() -> int:
    for _ in range(50):
        port = free_port()
        if port < 65535 and not port_open(port + 1):
            return port
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    plan = ClusterPlan(
        directory=tmp_path_factory.mktemp("cluster"),
        port=_two_free_ports(),
        api_count=2,
        shard_count=2,
        instances={"history": 2, "lake": 2, "realtime": 1, "attribution": 1},
        retrain_interval_s=0.0,
        overrides={"lake_flush_interval_s": 0.5, "checkpoint_interval_s": 0.2},
    )
    local = LocalCluster(plan)
    try:
        local.start()
    except ServerUnavailableError as exc:
        if in_ci():
            pytest.fail(f"cluster unavailable: {exc} (CI=true: real servers are required)")
        pytest.skip(f"cluster unavailable: {exc}")
    with pytest.MonkeyPatch.context() as mp:
        for key, value in local.aws_env().items():  # the lake on s3proxy, read from here
            mp.setenv(key, value)
        yield local
        local.stop()


def _settings(cluster: LocalCluster) -> Settings:
    assert cluster.settings is not None
    return cluster.settings


def _send(cluster: LocalCluster, prefix: str, users: int, items: int, batch: int = 20) -> int:
    """Post users x items view events, alternating between the API processes; returns the count."""
    settings = _settings(cluster)
    events = [
        {"user_id": f"{prefix}-u{u}", "item_id": f"i{i}"}
        for u, i in itertools.product(range(users), range(items))
    ]
    ports = itertools.cycle(cluster.plan.api_ports)
    headers = {"X-Tracking-Id": str(settings.tracking_id)}
    with httpx.Client(timeout=30) as client:
        for start in range(0, len(events), batch):
            url = f"http://127.0.0.1:{next(ports)}/v1/events"
            body = {"events": events[start : start + batch]}
            answer = client.post(url, json=body, headers=headers)
            assert answer.status_code == 202, answer.text
    return len(events)


def _wait_for(check: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + WAIT_S
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.25)
    raise AssertionError(f"not within {WAIT_S:.0f}s: {what}")


def _lake_counts(cluster: LocalCluster, prefix: str) -> tuple[int, int]:
    """(rows, distinct event ids) of this test's users in the lake, duplicates included."""
    sql = (
        "SELECT count(*), count(DISTINCT event_id) FROM events_raw "
        f"WHERE starts_with(user_id, '{prefix}-')"
    )
    location = _settings(cluster).lake_location
    url_to_fs(location)[0].invalidate_cache()  # s3fs caches listings: see the new files
    rows, distinct = LakeReader(location).query(sql).to_pylist()[0].values()
    return int(rows), int(distinct)


def _history_counts(cluster: LocalCluster, prefix: str, users: int) -> list[int]:
    """Per history row of the test's users, how many events it counts (each must be 1)."""
    counts: list[int] = []
    with httpx.Client(timeout=30) as client:
        for u, port in zip(range(users), itertools.cycle(cluster.plan.api_ports), strict=False):
            url = f"http://127.0.0.1:{port}/v1/users/{prefix}-u{u}/history?limit=500"
            counts.extend(item["count"] for item in client.get(url).json()["items"])
    return counts


def _state_counts(cluster: LocalCluster, prefix: str, users: int) -> list[int]:
    store = open_user_state_store(_settings(cluster))
    try:
        return [len(store.recent_events(f"{prefix}-u{u}", 500)) for u in range(users)]
    finally:
        store.close()


def _assert_once_per_group(cluster: LocalCluster, prefix: str, users: int, items: int) -> None:
    total = users * items
    _wait_for(lambda: _lake_counts(cluster, prefix)[1] == total, "every event in the lake")
    _wait_for(
        lambda: sum(_history_counts(cluster, prefix, users)) >= total, "every event in history"
    )
    _wait_for(lambda: sum(_state_counts(cluster, prefix, users)) >= total, "every event in state")
    time.sleep(1.0)  # a duplicate would show up after the first copy: give it the time to
    assert _lake_counts(cluster, prefix) == (total, total)
    assert _history_counts(cluster, prefix, users) == [1] * total
    assert _state_counts(cluster, prefix, users) == [items] * users


def _group_assignments(cluster: LocalCluster, group: str) -> list[int]:
    """Partitions held by each member of a Kafka consumer group."""
    admin = AdminClient({"bootstrap.servers": cluster.servers.kafka.bootstrap_servers})
    kafka_group = cluster.kafka_group_id(group)
    description = admin.describe_consumer_groups([kafka_group])[kafka_group].result(30)
    return [len(m.assignment.topic_partitions) for m in description.members]


def _group_description(cluster: LocalCluster, group: str) -> ConsumerGroupDescription:
    admin = AdminClient({"bootstrap.servers": cluster.servers.kafka.bootstrap_servers})
    kafka_group = cluster.kafka_group_id(group)
    return admin.describe_consumer_groups([kafka_group])[kafka_group].result(30)


def _group_member_ids(cluster: LocalCluster, group: str) -> set[str]:
    return {m.member_id for m in _group_description(cluster, group).members}


def _group_settled(cluster: LocalCluster, group: str) -> bool:
    """Every instance of the group joined, the group is stable, every partition is held."""
    description = _group_description(cluster, group)
    instances = cluster.plan.instances[group]
    held = sum(len(m.assignment.topic_partitions) for m in description.members)
    return (
        description.state == ConsumerGroupState.STABLE
        and len(description.members) == instances
        and held == cluster.plan.shard_count
    )


@pytest.mark.cluster
def test_the_written_config_reaches_the_running_cluster(cluster: LocalCluster) -> None:
    settings = load_settings(cluster.config_path, env={})
    assert settings == cluster.settings
    assert settings.stream_url.startswith("kafka://")
    assert settings.lake_url.startswith("s3://")
    log = open_event_log(settings)
    try:
        assert len(log.status()) == 2
    finally:
        log.close()


@pytest.mark.cluster
def test_two_apis_and_two_consumers_of_a_group_process_every_event_once(
    cluster: LocalCluster,
) -> None:
    users, items = 40, 5
    _send(cluster, "once", users, items)
    _assert_once_per_group(cluster, "once", users, items)
    # Both instances of the history and lake groups really shared the two partitions.
    assert sorted(_group_assignments(cluster, "history")) == [1, 1]
    assert sorted(_group_assignments(cluster, "lake")) == [1, 1]


def _lagging(cluster: LocalCluster, group: str) -> bool:
    log = open_event_log(_settings(cluster))
    try:
        return any(s.lag(group) > 0 for s in log.status([group]))
    finally:
        log.close()


@pytest.mark.cluster
def test_a_consumer_killed_mid_batch_resumes_from_the_last_commit(cluster: LocalCluster) -> None:
    users, items = 60, 10
    sender = threading.Thread(target=_send, args=(cluster, "crash", users, items, 10))
    sender.start()
    try:
        # Kill while events are in flight: polled or buffered, past the group's last commit.
        _wait_for(lambda: _lagging(cluster, "lake"), "records in flight for the lake group")
        for name in KILLED:
            cluster.kill(name)
    finally:
        sender.join(timeout=WAIT_S)
    for name in KILLED:
        cluster.restart(name)
    _assert_once_per_group(cluster, "crash", users, items)


def test_stop_leftovers_stops_the_processes_named_by_pid_files(tmp_path: Path) -> None:
    child = subprocess.Popen(["sleep", "60"])
    write_pid_file(tmp_path / "pids" / "consume-x.pid", child.pid, signal.SIGTERM)
    assert stop_leftovers(tmp_path, timeout_s=10) == ["consume-x"]
    assert process_start_ticks(child.pid) is None  # gone (and reaped: it was our child)
    assert not (tmp_path / "pids" / "consume-x.pid").exists()


def test_stop_leftovers_never_signals_a_recycled_pid(tmp_path: Path) -> None:
    """A pid file whose start time does not match the running process is stale: left alone."""
    pid_file = tmp_path / "pids" / "server-kafka.pid"
    write_pid_file(pid_file, os.getpid(), signal.SIGTERM)
    start = process_start_ticks(os.getpid())
    assert start is not None
    pid_file.write_text(pid_file.read_text().replace(f'"start": {start}', f'"start": {start - 1}'))
    assert stop_leftovers(tmp_path, timeout_s=1) == []
    assert not pid_file.exists()


def _clean_env() -> dict[str, str]:
    """No AWS_* or STREAMREC_* variables: the cluster's config file must be enough."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "STREAMREC_"))}


@pytest.mark.cluster
def test_import_while_consumers_run_returns_when_every_group_has_every_event(
    cluster: LocalCluster, tmp_path: Path
) -> None:
    users, items = 100, 40
    csv = tmp_path / "import.csv"
    rows = (f"imp-u{u},i{i},1700000000\n" for u, i in itertools.product(range(users), range(items)))
    csv.write_text("user_id,item_id,timestamp\n" + "".join(rows))
    # Two consumers per group start together, so a group rebalances at start, and a commit
    # caught in it fails once and is retried (logged): wait for every group to settle first, then
    # judge only what happens from the import on.
    groups = ("history", "lake", "realtime")
    _wait_for(lambda: all(_group_settled(cluster, g) for g in groups), "consumer groups settled")
    members = {g: _group_member_ids(cluster, g) for g in groups}
    logged = {name: len(m.log_since_start()) for name, m in cluster.members.items()}
    command = [sys.executable, "-m", "streamrec.cli", "--config", str(cluster.config_path),
               "import", str(csv), "--format", "csv", "--timeout", "120"]  # fmt: skip
    done = subprocess.run(command, env=_clean_env(), capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    for group in ("history", "lake", "realtime"):
        assert f"consumer group {group}: processed by its running consumers" in done.stdout
    total = users * items
    # Checked at once, without waiting: the import returned only when every group had them.
    assert _lake_counts(cluster, "imp")[1] == total
    assert sum(_history_counts(cluster, "imp", users)) == total
    assert _state_counts(cluster, "imp", users) == [items] * users
    # The import never joined their Kafka groups: the same members hold them, and no consumer
    # had a commit refused by a rebalance (which a member joining or leaving causes) meanwhile.
    assert {g: _group_member_ids(cluster, g) for g in groups} == members
    for name, member in cluster.members.items():
        log = member.log_since_start()[logged[name] :]
        assert "ILLEGAL_GENERATION" not in log and "Commit failed" not in log, name


@pytest.mark.cluster
def test_an_api_process_restarted_serves_the_same_stream_state(cluster: LocalCluster) -> None:
    """Co-occurrence and popularity live in each API process's memory; its snapshot (on the
    cluster's S3) brings them back, so a restart or a deploy changes nothing users see."""
    users = 30
    events = [
        {"user_id": f"snap-u{u}", "item_id": f"snap-i{(u + k) % 12}"}
        for u in range(users)
        for k in range(4)
    ]
    settings = _settings(cluster)
    port = cluster.plan.api_ports[0]
    base = f"http://127.0.0.1:{port}"
    with httpx.Client(timeout=30) as client:
        headers = {"X-Tracking-Id": str(settings.tracking_id)}
        assert client.post(f"{base}/v1/events", json={"events": events}, headers=headers).is_success

        def similar() -> list[tuple[str, float]]:
            body = client.get(f"{base}/v1/items/snap-i3/similar?n=500").json()
            return [(it["item_id"], it["score"]) for it in body.get("items", [])]

        seen: list[list[tuple[str, float]]] = []

        def settled() -> bool:  # every event counted: two reads a moment apart agree
            seen.append(similar())  # snap-i3's consecutive neighbours: snap-i2 and snap-i4
            return len(seen) > 4 and len(seen[-1]) >= 2 and seen[-1] == seen[-4]

        _wait_for(settled, "co-occurrence learnt by the API")
        before = seen[-1]
        cluster.restart(f"api-{port}")
        # The same items with the same scores. Among equal scores the order follows each
        # process's item numbering, and the snapshot restored may be the other API process's
        # (the last writer's), so ties are compared as sets, as two processes serve them.
        assert by_score(similar()) == by_score(before)


def by_score(items: list[tuple[str, float]]) -> dict[float, set[str]]:
    out: dict[float, set[str]] = {}
    for item, score in items:
        out.setdefault(score, set()).add(item)
    return out


@pytest.mark.cluster
def test_an_erased_user_is_in_no_backend_of_the_cluster(cluster: LocalCluster) -> None:
    """DELETE at one API process, status from the other; then the user id is in no Redis key or
    value, no PostgreSQL row, no S3 object (lake, models, snapshots), no file of the data dir.
    Kafka cannot rewrite records: the consumers drop them and they leave with retention."""
    from streamrec.cluster.config import S3_BUCKET
    from tests.backend_search import (
        files_holding,
        objects_holding,
        postgres_tables_holding,
        redis_keys_holding,
    )

    user = "erase-cluster-u0"
    settings = _settings(cluster)
    _send(cluster, "erase-cluster", users=1, items=30)
    _wait_for(lambda: _lake_counts(cluster, "erase-cluster")[1] == 30, "the user in the lake")
    redis_url, postgres_url = cluster.servers.redis.url, cluster.servers.postgres.url
    _wait_for(lambda: redis_keys_holding(redis_url, user) != [], "the user in Redis")
    _wait_for(lambda: postgres_tables_holding(postgres_url, user) != [], "the user in PostgreSQL")
    _send(cluster, "erase-cluster", users=1, items=30, batch=5)  # consumed meanwhile
    first, second = cluster.plan.api_ports[:2]
    admin = {"Authorization": f"Bearer {settings.admin_key}"}
    with httpx.Client(timeout=30) as client:
        url = f"http://127.0.0.1:{first}/v1/users/{user}"
        erasure = client.delete(url, headers=admin).json()
        status_url = f"http://127.0.0.1:{second}{erasure['status_url']}"
        _wait_for(
            lambda: client.get(status_url, headers=admin).json()["status"] != "running",
            "the erasure finished",
        )
        assert client.get(status_url, headers=admin).json()["status"] == "done"
    time.sleep(2.0)  # a consumer that wrongly re-created a row would have done it by now
    assert redis_keys_holding(redis_url, user) == []
    assert postgres_tables_holding(postgres_url, user) == []
    assert objects_holding(f"s3://{S3_BUCKET}", user) == []
    assert _lake_counts(cluster, "erase-cluster") == (0, 0)
    assert files_holding(settings.data_dir, user) == []
    # Redis's own files: the erasure has it rewrite its AOF (a log of every write) and RDB
    redis_dir = cluster.servers.redis.directory
    _wait_for(lambda: files_holding(redis_dir, user) == [], "Redis's files rewritten")
    assert files_holding(cluster.servers.s3.directory, user) == []


@pytest.mark.cluster
def test_an_alias_merges_through_kafka_at_both_api_processes(cluster: LocalCluster) -> None:
    """Anonymous events at one API process, the alias at the other: through Kafka, both serve
    the merged history, the user-state store holds the anonymous events under the user, and
    erasing the user leaves the anonymous id in no backend (streamrec.aliases)."""
    from streamrec.cluster.config import S3_BUCKET
    from tests.backend_search import objects_holding, postgres_tables_holding, redis_keys_holding

    anonymous, user = "anon-cluster-7e21", "alias-cluster-u0"
    settings = _settings(cluster)
    for group in ("history", "lake", "realtime"):  # a rebalance under way delays the erasure
        _wait_for(lambda g=group: _group_settled(cluster, g), f"the {group} group settled")
    first, second = (f"http://127.0.0.1:{p}" for p in cluster.plan.api_ports[:2])
    tracking = {"X-Tracking-Id": str(settings.tracking_id)}
    clicks = [{"user_id": anonymous, "item_id": f"alias-i{k}"} for k in range(5)]
    mine = [{"user_id": user, "item_id": "alias-i9"}]
    with httpx.Client(timeout=30) as client:

        def history(base: str, who: str) -> set[str]:
            body = client.get(f"{base}/v1/users/{who}/history?limit=50").json()
            return {row["item_id"] for row in body["items"]}

        def state(who: str) -> set[str]:
            store = open_user_state_store(settings)
            try:
                return {e.item_id for e in store.recent_events(who, 50)}
            finally:
                store.close()

        answer = client.post(f"{first}/v1/events", json={"events": clicks + mine}, headers=tracking)
        assert answer.status_code == 202
        _wait_for(lambda: len(history(second, anonymous)) == 5, "the anonymous history")
        body = {"anonymous_id": anonymous}
        answer = client.post(f"{second}/v1/users/{user}/aliases", json=body, headers=tracking)
        assert answer.status_code == 202, answer.text
        merged = {f"alias-i{k}" for k in (*range(5), 9)}
        for base in (first, second):
            _wait_for(lambda b=base: history(b, user) == merged, f"the merged history at {base}")
        assert history(first, anonymous) == set()
        _wait_for(lambda: state(user) == merged and state(anonymous) == set(), "merged state")
        later = [{"user_id": anonymous, "item_id": "alias-i7"}]
        assert client.post(f"{first}/v1/events", json={"events": later}, headers=tracking)
        _wait_for(lambda: "alias-i7" in history(second, user), "a later anonymous event")

        admin = {"Authorization": f"Bearer {settings.admin_key}"}
        erasure = client.delete(f"{first}/v1/users/{user}", headers=admin).json()
        status_url = f"{second}{erasure['status_url']}"
        _wait_for(
            lambda: client.get(status_url, headers=admin).json()["status"] != "running",
            "the erasure finished",
        )
        status = client.get(status_url, headers=admin).json()
        assert status["status"] == "done", (status, _group_lags(cluster))
        assert history(first, user) == set() and history(second, anonymous) == set()
    time.sleep(2.0)  # a consumer that wrongly re-created a row would have done it by now
    for erased in (anonymous, user):
        assert redis_keys_holding(cluster.servers.redis.url, erased) == []
        assert postgres_tables_holding(cluster.servers.postgres.url, erased) == []
        assert objects_holding(f"s3://{S3_BUCKET}", erased) == []


PROMO_FILTER = "INCLUDE ItemID WHERE Items.categories IN ($CATS)"


def _post(client: httpx.Client, url: str, body: object, headers: dict[str, str]) -> None:
    answer = client.post(url, json=body, headers=headers)
    assert answer.status_code in (200, 202), answer.text


def _own_reason(reason: dict[str, str], own: set[tuple[str, str]]) -> bool:
    """A reason naming one of the user's own events (item and event type)."""
    return (reason.get("item_id"), reason.get("event_type")) in own


@pytest.mark.cluster
def test_a_promotion_defined_at_one_api_process_is_served_by_the_other(
    cluster: LocalCluster,
) -> None:
    """PUT /v1/promotions at one API process; the other serves ?promotion= with its share of
    the slots, placed as the promotion module says, and every other item's reason names one of
    the user's own events (the co-occurrence each process learns from Kafka)."""
    settings = _settings(cluster)
    first, second = (f"http://127.0.0.1:{p}" for p in cluster.plan.api_ports[:2])
    tracking = {"X-Tracking-Id": str(settings.tracking_id)}
    admin = {"Authorization": f"Bearer {settings.admin_key}"}
    sale = [f"promo-p{k}" for k in range(4)]
    plain = [f"promo-n{k}" for k in range(3)]
    # eight shoppers view plain 0, 1, 2 then a sale item: the sale items are plain 2's neighbours
    crowd = [
        {"user_id": f"promo-c{c}", "item_id": item}
        for c in range(8)
        for item in (*plain, sale[c % 4])
    ]
    me = "promo-me"
    mine = [{"user_id": me, "item_id": item} for item in plain]
    with httpx.Client(timeout=30) as client:
        items = [{"item_id": i, "categories": ["Sale"]} for i in sale]
        _post(client, f"{first}/v1/items", {"items": items}, admin)
        _post(client, f"{first}/v1/events", {"events": crowd}, tracking)
        _post(client, f"{second}/v1/events", {"events": mine}, tracking)
        body = {"filter": PROMO_FILTER, "share": 0.5, "params": {"CATS": "Sale"}}
        answer = client.put(f"{first}/v1/promotions/cluster-sale", json=body, headers=admin)
        assert answer.status_code == 200, answer.text
        url = f"{second}/v1/recommendations/{me}?n=6&promotion=cluster-sale"
        seen: list[dict[str, object]] = []

        def promoted_in_full() -> bool:
            seen.append(client.get(url).json())
            got = seen[-1].get("items", [])
            return isinstance(got, list) and sum(bool(i.get("promoted")) for i in got) == 3

        _wait_for(promoted_in_full, f"3 promoted items at {second}")
        got = seen[-1]["items"]
        assert isinstance(got, list) and len(got) == 6
        assert seen[-1]["model"] == {"recipe": "cooccurrence", "version": None}
        # round(0.5 * 6) = 3 slots, spread evenly: positions 1, 3 and 5
        assert [k for k, i in enumerate(got) if i.get("promoted")] == [1, 3, 5]
        own = {(item, "view") for item in plain}
        for item in got:
            if item.get("promoted"):
                assert item["item_id"] in sale and item["categories"] == ["Sale"]
                assert item["reason"] == {"type": "promoted", "promotion": "cluster-sale"}
            else:
                assert item["reason"]["type"] in {"because_you", "repeat"}, item
                assert _own_reason(item["reason"], own), item
        plain_answer = client.get(f"{first}/v1/recommendations/{me}?n=6").json()
        assert not any(i.get("promoted") for i in plain_answer["items"])
        reasons = [i["reason"] for i in plain_answer["items"]]
        assert reasons and all(_own_reason(r, own) for r in reasons), reasons
        assert client.delete(f"{second}/v1/promotions/cluster-sale", headers=admin).is_success
        gone = client.get(url.replace(second, first))
        assert gone.status_code == 404 and gone.json()["field"] == "promotion"


@pytest.mark.cluster
def test_an_alias_changes_the_users_recommendations_at_both_api_processes(
    cluster: LocalCluster,
) -> None:
    """Before the alias the user has one event on an item nobody else knows (popularity
    serves); once the alias has gone through Kafka, both API processes recommend from the
    anonymous clicks, with reasons naming them."""
    settings = _settings(cluster)
    first, second = (f"http://127.0.0.1:{p}" for p in cluster.plan.api_ports[:2])
    tracking = {"X-Tracking-Id": str(settings.tracking_id)}
    anonymous, user = "anon-merge-3f9c", "merge-cluster-u0"
    shown = [f"merge-i{k}" for k in range(3)]
    crowd = [{"user_id": f"merge-c{c}", "item_id": item} for c in range(3) for item in shown]
    clicks = [{"user_id": anonymous, "item_id": item} for item in shown[:2]]
    with httpx.Client(timeout=30) as client:

        def recommended(base: str) -> dict[str, object]:
            body = client.get(f"{base}/v1/recommendations/{user}?n=5").json()
            assert isinstance(body, dict)
            return body

        def history(base: str, who: str) -> set[str]:
            body = client.get(f"{base}/v1/users/{who}/history?limit=50").json()
            return {row["item_id"] for row in body["items"]}

        _post(client, f"{first}/v1/events", {"events": crowd + clicks}, tracking)
        solo = [{"user_id": user, "item_id": "merge-solo"}]
        _post(client, f"{second}/v1/events", {"events": solo}, tracking)
        for base in (first, second):
            _wait_for(lambda b=base: history(b, user) == {"merge-solo"}, f"the user at {base}")
            _wait_for(lambda b=base: len(history(b, anonymous)) == 2, f"the clicks at {base}")
            before = recommended(base)
            assert before["model"] == {"recipe": "popularity", "version": None}, before
        body = {"anonymous_id": anonymous}
        _post(client, f"{second}/v1/users/{user}/aliases", body, tracking)
        own = {(item, "view") for item in shown[:2]}

        def follows_the_clicks(base: str) -> bool:
            got = recommended(base)
            items = got.get("items", [])
            assert isinstance(items, list)
            return got.get("model") == {"recipe": "cooccurrence", "version": None} and any(
                _own_reason(i["reason"], own) for i in items
            )

        for base in (first, second):
            _wait_for(lambda b=base: follows_the_clicks(b), f"the merged recommendations at {base}")
            items = recommended(base)["items"]
            assert isinstance(items, list)
            assert shown[2] in {i["item_id"] for i in items}  # the clicks' neighbour


@pytest.mark.cluster
def test_the_named_recommenders_at_one_api_process_count_events_sent_to_the_other(
    cluster: LocalCluster,
) -> None:
    """Purchases and views sent to one API process reach the other's counts through Kafka:
    bought together (the same session), also viewed (the same customer), best sellers in a
    window."""
    settings = _settings(cluster)
    first, second = (f"http://127.0.0.1:{p}" for p in cluster.plan.api_ports[:2])
    tracking = {"X-Tracking-Id": str(settings.tracking_id)}

    def purchase(user: str, item: str, session: str) -> dict[str, str]:
        return {"user_id": user, "item_id": item, "event_type": "purchase", "session_id": session}

    orders = [purchase(f"named-b{b}", item, f"named-s{b}") for b in range(3)
              for item in ("named-x", "named-y")]  # fmt: skip
    orders += [purchase(f"named-b{3 + b}", "named-z", f"named-s{3 + b}") for b in range(2)]
    views = [{"user_id": f"named-v{v}", "item_id": item} for v in range(3)
             for item in ("named-vx", "named-vy")]  # fmt: skip
    with httpx.Client(timeout=30) as client:
        _post(client, f"{first}/v1/events", {"events": orders + views}, tracking)

        def ids(path: str) -> list[str]:
            body = client.get(f"{second}{path}").json()
            return [i["item_id"] for i in body.get("items", [])]

        _wait_for(lambda: ids("/v1/items/named-x/bought-together") == ["named-y"], "bought")
        _wait_for(lambda: ids("/v1/items/named-vx/also-viewed") == ["named-vy"], "viewed")
        best = "/v1/popular?event_type=purchase&window=1h&n=3"
        _wait_for(lambda: ids(best)[2:] == ["named-z"], "best sellers")
        assert set(ids(best)[:2]) == {"named-x", "named-y"}  # three orders each, named-z two
        body = client.get(f"{second}/v1/items/named-x/bought-together").json()
        assert body["model"] == {"recipe": "bought-together", "version": None}


def _group_lags(cluster: LocalCluster) -> list[tuple[int, int, dict[str, int]]]:
    log = open_event_log(_settings(cluster))
    try:
        groups = ["history", "lake", "realtime"]
        return [(s.shard, s.head, dict(s.committed)) for s in log.status(groups)]
    finally:
        log.close()


AB_CAMPAIGNS = {"control": "ab-control", "challenger": "ab-challenger"}  # variant -> campaign
AB_SPEC = {
    "variants": [{"name": v, "campaign": c, "share": 0.5} for v, c in AB_CAMPAIGNS.items()],
    "metric": "click",
    "routes": ["recommendations"],
}


def _experiment_answers(
    client: httpx.Client, bases: list[str], users: list[str]
) -> dict[str, list[dict[str, Any]]]:
    """Each user's recommendations from every API process, once both serve the experiment."""

    def under_experiment(base: str) -> bool:
        body = client.get(f"{base}/v1/recommendations/ab-probe").json()
        answers["ab-probe"].append(body)
        return body.get("experiment") == "ab-cluster"

    answers: dict[str, list[dict[str, Any]]] = {"ab-probe": []}
    for base in bases:  # each process re-reads the running experiments about once a second
        _wait_for(lambda b=base: under_experiment(b), f"the experiment served at {base}")
    for user in users:
        answers[user] = [client.get(f"{base}/v1/recommendations/{user}").json() for base in bases]
    return answers


def _attribution_totals(client: httpx.Client, base: str, admin: dict[str, str]) -> dict[str, int]:
    """Recommendations and clicks per campaign of the experiment, from GET /v1/metrics/attribution."""
    url = f"{base}/v1/metrics/attribution?from={time.time() - 3600:.0f}&interval=1h"
    intervals = client.get(url, headers=admin).json()["intervals"]
    totals: dict[str, int] = {}
    for row in intervals:
        if row["campaign"].startswith("ab-"):
            for key in ("recommendations", "clicks"):
                name = f"{row['campaign']}.{key}"
                totals[name] = totals.get(name, 0) + row[key]
    return totals


def _variant_results(client: httpx.Client, base: str, admin: dict[str, str]) -> dict[str, Any]:
    body = client.get(f"{base}/v1/experiments/ab-cluster", headers=admin).json()
    results = body.get("results") or {"variants": []}
    return {
        v["name"]: (v["users"], v["recommendations"], v["conversions"]) for v in results["variants"]
    }


@pytest.mark.cluster
def test_experiment_and_attribution_agree_across_the_api_processes(cluster: LocalCluster) -> None:
    """An experiment defined at one API process splits users the same way at the other; the
    recommendations served and a click (sent twice, as a client retrying) carrying one's
    ``recommendation_id`` are counted once, in the figures and the experiment's results, read
    through either process."""
    settings = _settings(cluster)
    bases = [f"http://127.0.0.1:{p}" for p in cluster.plan.api_ports[:2]]
    admin = {"Authorization": f"Bearer {settings.admin_key}"}
    tracking = {"X-Tracking-Id": str(settings.tracking_id)}
    users = [f"ab-u{k}" for k in range(16)]
    with httpx.Client(timeout=30) as client:
        seed = [{"user_id": "ab-seed", "item_id": f"ab-i{k}"} for k in range(5)]
        assert client.post(f"{bases[0]}/v1/events", json={"events": seed}, headers=tracking)
        put = client.put(f"{bases[0]}/v1/experiments/ab-cluster", json=AB_SPEC, headers=admin)
        assert put.status_code == 200, put.text
        try:
            _count_once_across(client, bases, users, admin, tracking)
        finally:  # the experiment would split the route for the module's other tests
            client.post(f"{bases[1]}/v1/experiments/ab-cluster/stop", headers=admin)


def _count_once_across(
    client: httpx.Client,
    bases: list[str],
    users: list[str],
    admin: dict[str, str],
    tracking: dict[str, str],
) -> None:
    answers = _experiment_answers(client, bases, users)
    for user in users:  # the same variant from both processes
        variants = {a.get("variant") for a in answers[user]}
        assert len(variants) == 1 and None not in variants, (user, answers[user])
    assert {answers[u][0]["variant"] for u in users} == {"control", "challenger"}

    served = [a for found in answers.values() for a in found if "variant" in a]
    campaign = AB_CAMPAIGNS
    expected = {f"{c}.{k}": 0 for c in campaign.values() for k in ("recommendations", "clicks")}
    for answer in served:
        expected[f"{campaign[answer['variant']]}.recommendations"] += 1
    for base in bases:
        _wait_for(
            lambda b=base: _attribution_totals(client, b, admin) == expected,
            f"every recommendation counted once, read at {base}",
        )

    clicked = next(u for u in users if answers[u][0]["variant"] == "challenger")
    answer = answers[clicked][0]
    item = answer["items"][0]["item_id"] if answer["items"] else "ab-i0"
    click = {"user_id": clicked, "item_id": item, "event_type": "click",
             "recommendation_id": answer["recommendation_id"], "event_id": "ab-click-1"}  # fmt: skip
    for base in bases:  # the client's retry reaches the other process
        sent = client.post(f"{base}/v1/events", json={"events": [click]}, headers=tracking)
        assert sent.status_code == 202, sent.text
    expected["ab-challenger.clicks"] = 1
    per_user = {u: answers[u][0]["variant"] for u in users}
    per_user["ab-probe"] = answers["ab-probe"][-1]["variant"]
    users_in = {v: sum(1 for x in per_user.values() if x == v) for v in campaign}
    recommended = {v: expected[f"{campaign[v]}.recommendations"] for v in campaign}
    results = {v: (users_in[v], recommended[v], int(v == "challenger")) for v in campaign}
    for base in bases:
        _wait_for(
            lambda b=base: _attribution_totals(client, b, admin) == expected,
            f"the click counted once, read at {base}",
        )
        _wait_for(
            lambda b=base: _variant_results(client, b, admin) == results,
            f"the experiment's results at {base}",
        )
    time.sleep(2.0)  # a second count of the retry would have come by now
    for base in bases:
        assert _attribution_totals(client, base, admin) == expected
        assert _variant_results(client, base, admin) == results
