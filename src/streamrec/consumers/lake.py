"""The ``lake`` consumer group: archives every stream record to the Parquet lake.

Buffers follow the Firehose rules (``lake_flush_bytes`` / ``lake_flush_interval_s``, and on
shutdown); the offsets it reports as safe stop before the first record still buffered, so the
runner never commits past what is in a file. Replays are harmless: see :mod:`streamrec.lake.writer`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence, Set

from streamrec.config import Settings
from streamrec.lake.writer import LakeWriter
from streamrec.stream.base import StreamRecord

__all__ = ["LakeSink"]


class LakeSink:
    """Sink for the runner loop; `now` passed to checkpoint is epoch seconds (time.time())."""

    group = "lake"

    def __init__(self, writer: LakeWriter) -> None:
        self._writer = writer

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], float] | None = None
    ) -> LakeSink:
        writer = LakeWriter(
            settings.lake_location,
            settings.lake_flush_bytes,
            settings.lake_flush_interval_s,
            clock or time.time,
        )
        return cls(writer)

    @property
    def writer(self) -> LakeWriter:
        return self._writer

    def write(self, records: Sequence[StreamRecord]) -> None:
        self._writer.add(records)

    def release(self, shards: Set[int]) -> None:
        self._writer.release(shards)

    def checkpoint(self, now: float) -> Mapping[int, int]:
        self._writer.flush_due(now)
        return self._writer.safe_offsets()

    def close(self) -> Mapping[int, int]:
        return self._writer.close()
