"""The distributed stream: one Kafka topic with ``shard_count`` partitions (confluent-kafka).

URL: ``kafka://host:port[,host:port]/topic`` (topic defaults to ``streamrec-events``).

- Each event goes to partition ``shard_for(user_id, shard_count)``, given explicitly, with the user
  id as key: the same placement as the embedded log, so one user's events stay in order.
- The producer is idempotent with ``acks=all``: an event is acknowledged only once every in-sync
  replica has it. ``submit`` returns a future that completes when the broker confirmed every event
  of the batch, or fails with :class:`StreamUnavailable` when it could not within
  ``delivery_timeout_s`` (the API answers 503, never 202 for an event it could not store).
- Consumers are members of a Kafka consumer group (instances share its partitions); offsets are
  committed only when the runner says so (``enable.auto.commit=false``), synchronously.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from confluent_kafka import (
    Consumer,
    ConsumerGroupTopicPartitions,
    KafkaError,
    KafkaException,
    Producer,
    TopicPartition,
)
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    NewTopic,
    OffsetSpec,
)

from streamrec.config import Settings
from streamrec.errors import ConfigError, OverloadedError, StreamUnavailable
from streamrec.events import Event, encode_event
from streamrec.stream.base import ShardStatus
from streamrec.stream.kafka_consumer import LIBRDKAFKA_LOG, KafkaStreamConsumer, kafka_group_id
from streamrec.stream.kafka_reader import KafkaReader
from streamrec.stream.partition import shard_for

DEFAULT_TOPIC = "streamrec-events"
_ADMIN_TIMEOUT_S = 15.0


@dataclass(frozen=True)
class KafkaLocation:
    bootstrap_servers: str
    topic: str


def parse_kafka_url(url: str) -> KafkaLocation:
    """``kafka://h1:9092,h2:9092/topic`` -> bootstrap servers and topic."""
    if not url.startswith("kafka://"):
        raise ConfigError("stream_url", f"{url!r} is not a kafka:// URL")
    hosts, _, topic = url.removeprefix("kafka://").partition("/")
    topic = topic.strip("/") or DEFAULT_TOPIC
    if not hosts:
        raise ConfigError("stream_url", f"{url!r} names no broker (kafka://host:port/topic)")
    return KafkaLocation(hosts, topic)


def open_kafka_event_log(url: str, settings: Settings) -> KafkaEventLog:
    location = parse_kafka_url(url)
    return KafkaEventLog(
        location.bootstrap_servers,
        location.topic,
        settings.shard_count,
        max_pending_events=settings.max_pending_events,
    )


class _Batch:
    """Counts delivery reports for one submission and completes its future on the last one."""

    __slots__ = ("error", "future", "remaining")

    def __init__(self, count: int, future: Future[None]) -> None:
        self.remaining = count
        self.error: str | None = None
        self.future = future


class KafkaEventLog:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        shard_count: int,
        max_pending_events: int = 100_000,
        delivery_timeout_s: float = 5.0,
    ) -> None:
        self._servers = bootstrap_servers
        self._topic = topic
        self._shard_count = shard_count
        self._max_pending = max_pending_events
        self._delivery_timeout_s = delivery_timeout_s
        admin_config: dict[str, Any] = {
            "bootstrap.servers": bootstrap_servers,
            "logger": LIBRDKAFKA_LOG,
        }
        self._admin = AdminClient(admin_config)
        self._ensure_topic()
        self._producer = Producer(self._producer_config())
        self._lock = threading.Lock()
        self._pending = 0
        self._consumers: list[KafkaStreamConsumer] = []
        self._closed = threading.Event()
        self._poller = threading.Thread(target=self._poll_loop, name="kafka-delivery", daemon=True)
        self._poller.start()

    @property
    def shard_count(self) -> int:
        return self._shard_count

    @property
    def topic(self) -> str:
        return self._topic

    def _producer_config(self) -> dict[str, Any]:
        return {
            "bootstrap.servers": self._servers,
            "logger": LIBRDKAFKA_LOG,
            "acks": "all",
            "enable.idempotence": True,
            "linger.ms": 2,  # group commit: concurrent requests share one produce request
            "message.timeout.ms": int(self._delivery_timeout_s * 1000),
            "queue.buffering.max.messages": max(self._max_pending, 1),
            "compression.type": "lz4",
        }

    # -- topic ---------------------------------------------------------------------------------

    def _ensure_topic(self) -> None:
        try:
            partitions = self._partition_count()
            if partitions is None:
                self._create_topic()
                partitions = self._shard_count
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka {self._servers}: {exc}") from exc
        if partitions != self._shard_count:
            # Events already live on partitions we would not read, or users would move shard.
            raise StreamUnavailable(
                f"topic {self._topic} has {partitions} partitions but shard_count="
                f"{self._shard_count}; keep shard_count or use another topic"
            )

    def _partition_count(self) -> int | None:
        metadata = self._admin.list_topics(topic=self._topic, timeout=_ADMIN_TIMEOUT_S)
        topic = metadata.topics.get(self._topic)
        if topic is None or topic.error is not None:
            return None
        return len(topic.partitions)

    def _create_topic(self) -> None:
        new = NewTopic(self._topic, num_partitions=self._shard_count, replication_factor=-1)
        try:
            self._admin.create_topics([new])[self._topic].result(_ADMIN_TIMEOUT_S)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:  # another process won
                raise

    # -- writing -------------------------------------------------------------------------------

    def submit(self, events: Sequence[Event]) -> Future[None]:
        future: Future[None] = Future()
        if self._closed.is_set():
            future.set_exception(StreamUnavailable("the stream is closed"))
            return future
        if not events:
            future.set_result(None)
            return future
        with self._lock:
            if self._pending + len(events) > self._max_pending:
                future.set_exception(OverloadedError("too many events waiting for the broker"))
                return future
            self._pending += len(events)
        batch = _Batch(len(events), future)
        for index, event in enumerate(events):
            if not self._produce(event, batch):
                self._abandon(batch, len(events) - index)
                break
        return future

    def _produce(self, event: Event, batch: _Batch) -> bool:
        try:
            self._producer.produce(
                self._topic,
                value=encode_event(event),
                key=event.user_id.encode(),
                partition=shard_for(event.user_id, self._shard_count),
                timestamp=int(event.received_at * 1000),
                on_delivery=lambda err, _msg: self._delivered(batch, err),
            )
        except BufferError:
            batch.error = batch.error or "overloaded"
            return False
        except KafkaException as exc:
            batch.error = batch.error or str(exc)
            return False
        return True

    def _abandon(self, batch: _Batch, not_sent: int) -> None:
        """Account for events never handed to the producer; they will get no delivery report."""
        for _ in range(not_sent):
            self._delivered(batch, None)

    def _delivered(self, batch: _Batch, error: KafkaError | None) -> None:
        if error is not None and batch.error is None:
            batch.error = error.str()
        with self._lock:
            self._pending -= 1
            batch.remaining -= 1
            done = batch.remaining == 0
        if not done:
            return
        if batch.error is None:
            batch.future.set_result(None)
        elif batch.error == "overloaded":
            batch.future.set_exception(OverloadedError("the producer queue is full"))
        else:
            batch.future.set_exception(StreamUnavailable(f"kafka did not store: {batch.error}"))

    def _poll_loop(self) -> None:
        """Serve delivery reports as they arrive (they complete the submissions' futures)."""
        while not self._closed.is_set():
            self._producer.poll(0.05)

    def append(self, events: Sequence[Event]) -> None:
        try:
            self.submit(events).result(timeout=self._delivery_timeout_s + 5.0)
        except TimeoutError as exc:
            raise StreamUnavailable("kafka did not confirm delivery in time") from exc

    # -- reading -------------------------------------------------------------------------------

    def consumer(self, group: str) -> KafkaStreamConsumer:
        consumer = KafkaStreamConsumer(self._servers, self._topic, group)
        with self._lock:
            self._consumers = [c for c in self._consumers if not c.closed]
            self._consumers.append(consumer)
        return consumer

    def reader(self, start: Mapping[int, int]) -> KafkaReader:
        return KafkaReader(self._servers, self._topic, self._shard_count, start)

    def group_members(self, group: str) -> int | None:
        """Members of the group's Kafka consumer group (asked of the coordinator, not joined)."""
        group_id = kafka_group_id(self._topic, group)
        try:
            futures = self._admin.describe_consumer_groups(
                [group_id], request_timeout=_ADMIN_TIMEOUT_S
            )
            return len(futures[group_id].result().members)
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka {self._servers}: {exc}") from exc

    def status(self, groups: Sequence[str] = ()) -> list[ShardStatus]:
        try:
            heads = self._heads()
            committed = {g: self._committed(g) for g in self._known_groups(groups)}
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka {self._servers}: {exc}") from exc
        return [
            ShardStatus(
                shard=s,
                head=heads.get(s, 0),
                committed={g: offsets.get(s, 0) for g, offsets in committed.items()},
            )
            for s in range(self._shard_count)
        ]

    def _heads(self) -> dict[int, int]:
        latest = OffsetSpec.latest()  # type: ignore[no-untyped-call]
        wanted = {TopicPartition(self._topic, s): latest for s in range(self._shard_count)}
        futures = self._admin.list_offsets(wanted, request_timeout=_ADMIN_TIMEOUT_S)
        return {tp.partition: future.result().offset for tp, future in futures.items()}

    def _known_groups(self, named: Sequence[str]) -> list[str]:
        listed = self._admin.list_consumer_groups(request_timeout=_ADMIN_TIMEOUT_S).result()
        prefix = kafka_group_id(self._topic, "")
        known = {
            g.group_id.removeprefix(prefix) for g in listed.valid if g.group_id.startswith(prefix)
        }
        return sorted(known.union(named))

    def _committed(self, group: str) -> dict[int, int]:
        wanted = [TopicPartition(self._topic, s) for s in range(self._shard_count)]
        request = ConsumerGroupTopicPartitions(kafka_group_id(self._topic, group), wanted)
        futures = self._admin.list_consumer_group_offsets(
            [request], request_timeout=_ADMIN_TIMEOUT_S
        )
        found = next(iter(futures.values())).result()
        return {tp.partition: tp.offset for tp in found.topic_partitions if tp.offset >= 0}

    def erase_user(self, user_id: str) -> int:
        """Kafka cannot delete single records: the user's leave with the topic's retention
        (consumers of every group have applied the erasure to what they read meanwhile)."""
        return 0

    def trim(self, older_than: float) -> int:
        """Delete records received before `older_than` (Kafka's time retention also does this)."""
        probe = Consumer(
            {
                "bootstrap.servers": self._servers,
                "group.id": "streamrec-status",
                "logger": LIBRDKAFKA_LOG,
            }
        )
        try:
            wanted = [
                TopicPartition(self._topic, s, int(older_than * 1000))
                for s in range(self._shard_count)
            ]
            cut = probe.offsets_for_times(wanted, timeout=_ADMIN_TIMEOUT_S)
            lows = {
                s: probe.get_watermark_offsets(TopicPartition(self._topic, s), _ADMIN_TIMEOUT_S)
                for s in range(self._shard_count)
            }
        finally:
            probe.close()
        # No record at or after the cut time (offset -1): everything in the partition is older.
        targets = [
            TopicPartition(
                self._topic, tp.partition, tp.offset if tp.offset >= 0 else lows[tp.partition][1]
            )
            for tp in cut
        ]
        targets = [tp for tp in targets if tp.offset > lows[tp.partition][0]]
        if not targets:
            return 0
        for future in self._admin.delete_records(targets).values():
            future.result(_ADMIN_TIMEOUT_S)
        return sum(tp.offset - lows[tp.partition][0] for tp in targets)

    def close(self) -> None:
        if self._closed.is_set():
            return
        self._producer.flush(self._delivery_timeout_s)
        self._closed.set()
        # A member left open would stall its group's next rebalance until its session timeout.
        for consumer in self._consumers:
            consumer.close()
        self._poller.join(timeout=5)
        self._producer.poll(0)
