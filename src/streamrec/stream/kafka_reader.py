"""A reader of the stream's topic from given offsets, outside any consumer group (see
``EventLog.reader``): it assigns the partitions itself, so it never joins, rebalances or commits
for a group that running consumers use."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping

from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaException, Message, TopicPartition

from streamrec.errors import StreamUnavailable
from streamrec.events import decode_event
from streamrec.stream.base import StreamRecord
from streamrec.stream.kafka_consumer import LIBRDKAFKA_LOG

__all__ = ["KafkaReader"]

SETTLE_TIMEOUT_S = 10.0


class KafkaReader:
    def __init__(
        self, bootstrap_servers: str, topic: str, partitions: int, start: Mapping[int, int]
    ) -> None:
        self._consumer = Consumer(
            {
                "bootstrap.servers": bootstrap_servers,
                "logger": LIBRDKAFKA_LOG,
                # Required by librdkafka, never used: assign() joins no group, nothing commits.
                "group.id": f"streamrec-reader-{uuid.uuid4().hex}",
                "enable.auto.commit": False,
                "enable.auto.offset.store": False,
                "auto.offset.reset": "earliest",  # an offset already trimmed: the oldest kept
                "fetch.wait.max.ms": 100,
                "enable.partition.eof": True,  # tells _settle a partition is empty
            }
        )
        self._consumer.assign(
            [TopicPartition(topic, p, start.get(p, OFFSET_BEGINNING)) for p in range(partitions)]
        )
        self._closed = False
        self._early: list[Message] = []
        self._settle(set(range(partitions)))

    def _settle(self, partitions: set[int]) -> None:
        """Wait until each partition delivered its first record or reported its end: finding
        the start offsets takes a few round trips, and a first short poll must not mistake that
        for an empty stream."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        started: set[int] = set()
        while not partitions <= started and time.monotonic() < deadline:
            message = self._consumer.poll(0.05)
            if message is not None:
                started.add(message.partition() or 0)
                self._early.append(message)

    @property
    def group(self) -> str:
        return ""

    def poll(self, max_records: int, timeout_s: float) -> list[StreamRecord]:
        messages, self._early = self._early[:max_records], self._early[max_records:]
        try:
            if len(messages) < max_records:
                wait = 0.0 if messages else timeout_s
                messages += self._consumer.consume(max_records - len(messages), wait)
        except KafkaException as exc:
            raise StreamUnavailable(f"kafka reader: {exc}") from exc
        return [_record(m) for m in messages if m.error() is None]

    def on_revoke(self, listener: Callable[[list[int]], None]) -> None:
        """Nothing is ever revoked: the reader assigns its partitions itself, in no group."""

    def commit(self, next_offsets: Mapping[int, int]) -> None:
        return None

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._consumer.close()


def _record(message: Message) -> StreamRecord:
    shard, offset, value = message.partition(), message.offset(), message.value()
    assert shard is not None and offset is not None and value is not None  # a data message
    return StreamRecord(shard, offset, decode_event(value))
