"""One member of a Kafka consumer group reading the stream's topic (see :mod:`.kafka`)."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

from confluent_kafka import Consumer, KafkaException, Message, TopicPartition

from streamrec.errors import StreamUnavailable
from streamrec.events import decode_event
from streamrec.stream.base import StreamRecord

# librdkafka's own messages (a broker down, a reconnect) go through logging, not raw stderr.
LIBRDKAFKA_LOG = logging.getLogger("streamrec.kafka")
# A member killed with SIGKILL stays in its group until its session times out; a replacement's
# join waits for that, so the join must outlast the session (Kafka's default session is 45 s).
_SESSION_TIMEOUT_MS = 10_000
_JOIN_TIMEOUT_S = 30.0
_FIRST_FETCH_WAIT_S = 5.0


def kafka_group_id(topic: str, group: str) -> str:
    """Kafka group ids are per cluster, ours per stream: two streams (topics) on one cluster may
    both have a ``history`` group, and must not share (and rebalance) one Kafka group."""
    return f"{topic}.{group}"


class KafkaStreamConsumer:
    """One member of a Kafka consumer group over the stream's topic."""

    def __init__(self, bootstrap_servers: str, topic: str, group: str) -> None:
        self._group = group
        self._topic = topic
        self._assigned = threading.Event()
        self._closed = False
        self._partitions: set[int] = set()
        self._started: set[int] = set()  # partitions that delivered a record or their end
        self._early: list[Message] = []
        self._revoke_listeners: list[Callable[[list[int]], None]] = []
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "logger": LIBRDKAFKA_LOG,
                "group.id": kafka_group_id(topic, group),
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "partition.assignment.strategy": "cooperative-sticky",
                "fetch.wait.max.ms": 100,
                "enable.partition.eof": True,  # tells _join a partition is empty
                "session.timeout.ms": _SESSION_TIMEOUT_MS,
                "heartbeat.interval.ms": 2_000,
            }
        )
        self._consumer.subscribe([topic], on_assign=self._on_assign, on_revoke=self._on_revoke)
        self._join()

    def _join(self) -> None:
        """Wait until the group gave this member its partitions and each of them delivered its
        first record or reported its end: finding start offsets takes a few round trips after
        the assignment, and a first poll with a short timeout must not mistake that for an
        empty stream."""
        deadline = time.monotonic() + _JOIN_TIMEOUT_S
        while not self._assigned.is_set() and time.monotonic() < deadline:
            self._poll_early(0.1)
        if not self._assigned.is_set():
            self._consumer.close()  # leave the group now, not after a session timeout
            raise StreamUnavailable(f"consumer group {self._group} was not joined in time")
        settle = time.monotonic() + _FIRST_FETCH_WAIT_S
        while not self._partitions <= self._started and time.monotonic() < settle:
            self._poll_early(0.05)

    def _poll_early(self, timeout_s: float) -> None:
        message = self._consumer.poll(timeout_s)
        if message is not None:
            self._early.append(message)
            self._started.add(message.partition() or 0)

    def _on_assign(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        self._partitions.update(tp.partition for tp in partitions)
        self._assigned.set()

    def _on_revoke(self, _consumer: Consumer, partitions: list[TopicPartition]) -> None:
        """Runs inside poll/consume on the consumer's thread, before the partitions move: the
        listeners drop what they hold of them, so the next owner's copy is the only one."""
        lost = [tp.partition for tp in partitions]
        self._partitions.difference_update(lost)
        self._early = [m for m in self._early if m.partition() not in lost]
        for listener in self._revoke_listeners:
            listener(lost)

    def on_revoke(self, listener: Callable[[list[int]], None]) -> None:
        self._revoke_listeners.append(listener)

    @property
    def group(self) -> str:
        return self._group

    def poll(self, max_records: int, timeout_s: float) -> list[StreamRecord]:
        messages, self._early = self._early[:max_records], self._early[max_records:]
        try:
            if len(messages) < max_records:
                messages += self._consumer.consume(max_records - len(messages), 0)
            if not messages and timeout_s > 0:
                first = self._consumer.poll(timeout_s)  # returns as soon as one arrives
                if first is not None:
                    rest = self._consumer.consume(max_records - 1, 0) if max_records > 1 else []
                    messages = [first, *rest]
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka consumer {self._group}: {exc}") from exc
        owned = self._partitions
        return [self._record(m) for m in messages if self._usable(m) and m.partition() in owned]

    def _usable(self, message: Message) -> bool:
        error = message.error()
        if error is None:
            return True
        if error.fatal():
            raise StreamUnavailable(f"kafka consumer {self._group}: {error.str()}")
        return False  # transient (a broker restarting): librdkafka retries by itself

    @staticmethod
    def _record(message: Message) -> StreamRecord:
        shard, offset, value = message.partition(), message.offset(), message.value()
        assert shard is not None and offset is not None and value is not None  # a data message
        return StreamRecord(shard, offset, decode_event(value))

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        if not next_offsets:
            return
        offsets = [TopicPartition(self._topic, s, o) for s, o in next_offsets.items()]
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka commit for {self._group}: {exc}") from exc

    @property
    def closed(self) -> bool:
        return self._closed

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()
