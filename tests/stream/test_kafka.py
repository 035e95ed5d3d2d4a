"""What only the Kafka backend has to get right: its URL, its topic's shape, and trimming."""

from __future__ import annotations

import time
import uuid

import pytest

from streamrec.errors import ConfigError, StreamUnavailable
from streamrec.stream.kafka import DEFAULT_TOPIC, KafkaEventLog, parse_kafka_url
from streamrec.testing import KafkaServer
from tests.factories import make_event


def test_url_names_brokers_and_topic() -> None:
    location = parse_kafka_url("kafka://h1:9092,h2:9092/shop-events")
    assert (location.bootstrap_servers, location.topic) == ("h1:9092,h2:9092", "shop-events")
    assert parse_kafka_url("kafka://h1:9092").topic == DEFAULT_TOPIC
    with pytest.raises(ConfigError):
        parse_kafka_url("kafka:///topic")


@pytest.mark.cluster
def test_refuses_a_topic_with_another_partition_count(kafka_server: KafkaServer) -> None:
    topic = f"shape-{uuid.uuid4().hex[:8]}"
    KafkaEventLog(kafka_server.bootstrap_servers, topic, shard_count=2).close()
    with pytest.raises(StreamUnavailable, match="2 partitions"):
        KafkaEventLog(kafka_server.bootstrap_servers, topic, shard_count=3)


@pytest.mark.cluster
def test_trim_deletes_records_received_before_the_cut(kafka_server: KafkaServer) -> None:
    log = KafkaEventLog(kafka_server.bootstrap_servers, f"trim-{uuid.uuid4().hex[:8]}", 2)
    now = time.time()
    old = [make_event(f"u{i}", "old", received_at=now - 7200) for i in range(10)]
    new = [make_event(f"u{i}", "new", received_at=now) for i in range(10)]
    log.append(old)
    log.append(new)
    assert log.trim(now - 3600) == 10
    assert sum(s.head for s in log.status()) == 20  # offsets never move back
    consumer = log.consumer("after-trim")
    items: list[str] = []
    while batch := consumer.poll(100, 1.0):
        items += [r.event.item_id for r in batch]
    assert items == ["new"] * 10
    assert log.trim(now - 3600) == 0
    log.close()
