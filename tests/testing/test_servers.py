"""The real servers start, answer real clients, keep their data across a restart, and stop."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import psycopg
import pytest
import redis
import s3fs
from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient, NewTopic

from streamrec.testing import KafkaServer, PostgresServer, RedisServer, S3Server
from streamrec.testing._process import ManagedProcess, port_open
from streamrec.testing.fixtures import ServerFactory, start_or_skip

pytestmark = pytest.mark.cluster


def _produce(server: KafkaServer, topic: str, values: list[bytes]) -> None:
    producer = Producer(
        {"bootstrap.servers": server.bootstrap_servers, "acks": "all", "enable.idempotence": True}
    )
    for i, value in enumerate(values):
        producer.produce(topic, value=value, key=str(i), partition=i % 2)
    assert producer.flush(30) == 0, "messages left undelivered"


def _consume(server: KafkaServer, topic: str, group: str, count: int) -> list[bytes]:
    consumer = Consumer(
        {
            "bootstrap.servers": server.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    consumer.subscribe([topic])
    got: list[bytes] = []
    deadline = time.monotonic() + 60
    while len(got) < count and time.monotonic() < deadline:
        message = consumer.poll(0.5)
        if message is not None and message.error() is None:
            got.append(message.value())
    consumer.commit(asynchronous=False)
    consumer.close()
    return got


def _create_topic(server: KafkaServer, topic: str, partitions: int) -> None:
    admin = AdminClient({"bootstrap.servers": server.bootstrap_servers})
    futures = admin.create_topics(
        [NewTopic(topic, num_partitions=partitions, replication_factor=1)]
    )
    futures[topic].result(30)


def test_kafka_round_trip_survives_restart(server_factory: ServerFactory) -> None:
    server = server_factory(KafkaServer)
    assert server.url == f"kafka://127.0.0.1:{server.port}"
    _create_topic(server, "events", partitions=2)
    values = [f"event-{i}".encode() for i in range(20)]
    _produce(server, "events", values)
    assert sorted(_consume(server, "events", "g1", len(values))) == sorted(values)

    server.restart()
    _produce(server, "events", [b"after-restart"])
    # g1 committed before the restart, so it resumes past the first 20 events.
    assert _consume(server, "events", "g1", 1) == [b"after-restart"]
    server.stop()
    assert not port_open(server.port)


def test_redis_answers_and_keeps_aof_data_across_restart(server_factory: ServerFactory) -> None:
    server = server_factory(RedisServer, appendonly=True)
    client = redis.Redis.from_url(server.url)
    assert client.ping()
    client.set("k", "v")
    server.restart()
    client = redis.Redis.from_url(server.url)
    assert client.get("k") == b"v"
    server.kill()
    assert not port_open(server.port)
    with pytest.raises(redis.ConnectionError):
        client.ping()


def test_postgres_answers_and_keeps_tables_across_restart(server_factory: ServerFactory) -> None:
    server = server_factory(PostgresServer, database="shop")
    assert server.url.endswith("/shop")
    with psycopg.connect(server.url, autocommit=True) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (42)")
    server.restart()
    with psycopg.connect(server.url) as conn:
        assert conn.execute("SELECT x FROM t").fetchall() == [(42,)]
    server.stop()
    assert not port_open(server.port)


def test_s3_put_get_and_objects_survive_restart(server_factory: ServerFactory) -> None:
    server = server_factory(S3Server, bucket="lake")
    fs = s3fs.S3FileSystem(**server.storage_options())
    payload = uuid.uuid4().bytes * 1000
    fs.pipe("lake/events/part-0.bin", payload)
    assert fs.cat("lake/events/part-0.bin") == payload
    server.restart()
    fs = s3fs.S3FileSystem(**server.storage_options())
    assert fs.ls("lake/events") == ["lake/events/part-0.bin"]
    assert fs.cat("lake/events/part-0.bin") == payload
    server.stop()
    assert not port_open(server.port)


def test_session_fixtures_answer_clients(
    redis_server: RedisServer, postgres_server: PostgresServer, s3_server: S3Server
) -> None:
    assert redis.Redis.from_url(redis_server.url).ping()
    with psycopg.connect(postgres_server.url) as conn:
        assert conn.execute("SELECT current_database()").fetchone() == ("streamrec",)
    fs = s3fs.S3FileSystem(**s3_server.storage_options())
    fs.call_s3("head_bucket", Bucket=s3_server.bucket)  # raises FileNotFoundError if missing
    fs.pipe(f"{s3_server.bucket}/probe", b"x")
    assert fs.cat(f"{s3_server.bucket}/probe") == b"x"


def test_session_kafka_fixture_answers(kafka_server: KafkaServer) -> None:
    topic = f"probe-{uuid.uuid4().hex[:8]}"
    _create_topic(kafka_server, topic, partitions=2)
    _produce(kafka_server, topic, [b"a", b"b"])
    assert sorted(_consume(kafka_server, topic, "probe", 2)) == [b"a", b"b"]


class _BrokenServer(ManagedProcess):
    """A server whose program exits at once, as when its binary is broken."""

    name = "broken"

    def _command(self) -> list[str]:
        return ["sh", "-c", "echo cannot start >&2; exit 3"]

    def _ready(self) -> bool:
        return False


def test_unavailable_server_skips_with_reason_outside_ci(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match=r"(?s)broken unavailable.*cannot start"):
        start_or_skip(_BrokenServer(tmp_path))


def test_unavailable_server_fails_under_ci(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        start_or_skip(_BrokenServer(tmp_path))


def test_browser_tests_fail_without_chromium_under_ci(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from tests.browser import conftest as browser

    monkeypatch.setattr(browser, "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true"):
        browser.require_chromium()
    monkeypatch.setenv("CI", "")
    with pytest.raises(pytest.skip.Exception, match="no-chromium"):
        browser.require_chromium()


def test_kafka_cluster_ids_never_read_as_an_option() -> None:
    """One random id in 64 began with "-", which the storage tool took for an option, and the
    Kafka start failed."""
    from streamrec.testing.servers import _kafka_cluster_id

    ids = [_kafka_cluster_id() for _ in range(5_000)]
    assert all(len(i) == 22 and not i.startswith("-") for i in ids)
