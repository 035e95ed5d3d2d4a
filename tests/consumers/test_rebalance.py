"""Kafka: a partition that moves to another member while the lake writer buffers its records is
written to the lake once, by its new owner (the old one drops its buffer on revoke)."""

from __future__ import annotations

import threading
import uuid
from pathlib import Path

import pytest

from streamrec.consumers.lake import LakeSink
from streamrec.consumers.runner import ConsumerRunner
from streamrec.lake.reader import LakeReader
from streamrec.lake.writer import LakeWriter
from streamrec.stream.kafka import KafkaEventLog
from streamrec.testing import KafkaServer
from tests.factories import make_event


def lake_runner(log: KafkaEventLog, lake: str) -> ConsumerRunner:
    """A lake consumer whose buffer holds everything until it closes."""
    sink = LakeSink(LakeWriter(lake, flush_bytes=1 << 30, flush_interval_s=3600.0))
    return ConsumerRunner(log, sink, batch_size=1000, checkpoint_interval_s=3600.0)


@pytest.mark.cluster
def test_a_partition_moving_between_two_consumers_is_written_once(
    kafka_server: KafkaServer, tmp_path: Path
) -> None:
    log = KafkaEventLog(kafka_server.bootstrap_servers, f"move-{uuid.uuid4().hex[:8]}", 2)
    log.append([make_event(f"u{i}", f"i{i}") for i in range(200)])
    lake = str(tmp_path / "lake")
    first = lake_runner(log, lake)
    while first.processed < 200:  # both partitions buffered in its lake writer, not committed
        first.run_once()
    joined: list[ConsumerRunner] = []
    joining = threading.Thread(target=lambda: joined.append(lake_runner(log, lake)))
    joining.start()
    while joining.is_alive():  # the first member must poll for the rebalance to go on
        first.run_once()
    second = joined[0]
    idle = 0
    while idle < 30:  # both poll, so the cooperative rebalance completes
        idle = idle + 1 if first.run_once() + second.run_once() == 0 else 0
    second.close()
    first.close()
    log.close()
    rows = LakeReader(lake).query(
        'SELECT shard, "offset", count(*) AS copies FROM events_raw GROUP BY shard, "offset"'
    )
    assert rows.num_rows == 200
    assert max(rows.column("copies").to_pylist()) == 1
