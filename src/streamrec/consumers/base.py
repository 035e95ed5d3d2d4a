"""What a consumer group's sink looks like to the runner loop (poll -> batch -> sink -> commit).

Sinks are idempotent: each knows, from its own durable state, the stream position it has reached
(``positions``) and skips records below it, so at-least-once delivery yields an exactly-once effect.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from typing import Protocol, runtime_checkable

from streamrec.stream.base import StreamRecord


class Sink(Protocol):
    @property
    def group(self) -> str:
        """The consumer group name (history, lake, realtime)."""
        ...

    def write(self, records: Sequence[StreamRecord]) -> None:
        """Take a batch in stream order per shard; apply it now or buffer it."""
        ...

    def checkpoint(self, now: float) -> Mapping[int, int]:
        """Make durable what is due (flush buffers on their size/time rules) and return, per shard,
        the next offset before which everything is durable in the sink: safe to commit."""
        ...

    def close(self) -> Mapping[int, int]:
        """Flush everything buffered and release resources; returns the final safe offsets."""
        ...


@runtime_checkable
class ReleasingSink(Protocol):
    """A sink that buffers records (the lake): on a rebalance it must drop what it holds of the
    shards it lost, which the new owner reads again from the last commit."""

    def release(self, shards: Set[int]) -> None: ...


@runtime_checkable
class RecommendationSink(Protocol):
    """A sink that also takes the ``$recommendation`` records (served recommendations, see
    :mod:`streamrec.attribution.records`): the lake and attribution. The runner drops them
    before any other sink, which would take them for interactions."""

    takes_recommendations: bool
