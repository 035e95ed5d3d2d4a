"""The lake on an S3-compatible server (real s3proxy), reached through the usual AWS variables,
the way ``lake_url = "s3://bucket/prefix"`` runs in a cluster."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import s3fs

from streamrec.lake.reader import LakeReader
from streamrec.lake.writer import LakeWriter
from streamrec.stream.base import StreamRecord
from streamrec.testing.servers import S3Server
from tests.factories import random_events

pytestmark = pytest.mark.cluster


@pytest.fixture
def s3_lake_url(s3_server: S3Server, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for name, value in s3_server.env().items():
        monkeypatch.setenv(name, value)
    s3fs.S3FileSystem.clear_instance_cache()  # fsspec caches clients made with other settings
    yield f"s3://{s3_server.bucket}/lake-{uuid.uuid4().hex[:8]}"
    s3fs.S3FileSystem.clear_instance_cache()


def test_lake_writes_and_reads_back_on_s3(s3_lake_url: str) -> None:
    events = random_events(300, seed=3)
    records = [StreamRecord(i % 2, i // 2, e) for i, e in enumerate(events)]
    writer = LakeWriter(s3_lake_url, flush_bytes=1 << 30, flush_interval_s=3600)
    writer.add(records)
    assert writer.close() == {0: 150, 1: 150}

    table = LakeReader(s3_lake_url).read_interactions()
    assert table.num_rows == 300
    assert sorted(table.column("item_id").to_pylist()) == sorted(e.item_id for e in events)
    # A new writer learns from the object names where the lake stands: a replay adds nothing.
    again = LakeWriter(s3_lake_url, flush_bytes=1 << 30, flush_interval_s=3600)
    assert again.stored_positions() == {0: 150, 1: 150}
    again.add(records)
    again.close()
    assert LakeReader(s3_lake_url).read_interactions().num_rows == 300
