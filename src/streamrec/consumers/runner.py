"""The consumer loop: poll the stream, hand batches to a sink, commit on checkpoints.

Offsets are committed on a checkpoint (every ``checkpoint_interval_s``), never per event; the sink says
which offsets are safe (everything before them is durable in the sink). Delivery is therefore at least
once; sinks skip what they already hold, so replays change nothing.

A failure of any kind (a backend outage, a raw ``sqlite3`` error, a bug in a sink) never ends the
loop: it is logged, counted (``failures``, exported as ``streamrec_consumer_failures_total``) and
retried after an exponential back-off (``BACKOFF_FIRST_S`` doubling up to ``BACKOFF_MAX_S``). The
batch that failed is kept and retried, never skipped. ``failing_since`` tells /healthz how long the
group has been failing without a success.

With an :class:`~streamrec.consumers.erased.ErasedFilter`, the records of erased users below their
erasure's stream position are dropped before the sink sees them (see that module).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Mapping

from streamrec.consumers.base import RecommendationSink, ReleasingSink, Sink
from streamrec.consumers.erased import ErasedFilter, ErasureAwareSink, SkippedRuns
from streamrec.errors import UnavailableError
from streamrec.events import RECOMMENDATION_EVENT_TYPE
from streamrec.shared_metrics import consumer_failures
from streamrec.stores.base import ErasureMark
from streamrec.stream.base import EventLog, StreamConsumer, StreamRecord

log = logging.getLogger(__name__)

BACKOFF_FIRST_S = 0.5
BACKOFF_MAX_S = 30.0


def backoff_delay(consecutive_failures: int, first_s: float, max_s: float) -> float:
    """Seconds to wait after the n-th failure in a row (n >= 1): first_s, 2 first_s, ... max_s."""
    return float(min(max_s, first_s * 2.0 ** min(consecutive_failures - 1, 62)))


class ConsumerRunner:
    def __init__(
        self,
        event_log: EventLog,
        sink: Sink,
        batch_size: int = 1000,
        poll_timeout_s: float = 0.05,
        checkpoint_interval_s: float = 1.0,
        backoff_first_s: float = BACKOFF_FIRST_S,
        backoff_max_s: float = BACKOFF_MAX_S,
        erased: ErasedFilter | None = None,
    ) -> None:
        self._log = event_log
        self._sink = sink
        self._batch_size = batch_size
        self._poll_timeout_s = poll_timeout_s
        self._checkpoint_interval_s = checkpoint_interval_s
        self._consumer: StreamConsumer = event_log.consumer(sink.group)
        self._consumer.on_revoke(self._release)
        self._committed: dict[int, int] = {}
        # per shard, the first offset this runner polled: where the group's commit stood then
        self._started: dict[int, int] = {}
        self._last_checkpoint = time.monotonic()
        self._unwritten: list[StreamRecord] = []
        self._erased = erased
        self._unfiltered = False
        self._skipped = SkippedRuns()
        self._interactions_only = not (
            isinstance(sink, RecommendationSink) and sink.takes_recommendations
        )
        self.processed = 0
        self.dropped = 0  # records of erased users left out
        self._backoff = (backoff_first_s, backoff_max_s)
        self.failures: dict[str, int] = {}  # exception class name -> count
        self.consecutive_failures = 0
        self.failing_since: float | None = None  # time.monotonic() of the first failure in a row
        self.last_error = ""

    @property
    def group(self) -> str:
        return self._sink.group

    def run_once(self) -> int:
        """One poll (waiting up to the poll timeout) and, when due, a checkpoint; returns how
        many records it polled (or retried)."""
        polled = 0
        if not self._unwritten:
            # Kept until the sink takes it: a failed write is retried, never skipped.
            self._unwritten = self._consumer.poll(self._batch_size, self._poll_timeout_s)
            polled = len(self._unwritten)
            for r in self._unwritten:
                self._started.setdefault(r.shard, r.offset)
            self._unfiltered = True
        if self._unfiltered:  # until the ledger could be read (a store outage is retried)
            self._unwritten = self._without_erased(self._unwritten)
            self._unfiltered = False
        records = self._unwritten
        if records:
            self._sink.write(records)
            self._unwritten = []
            self.processed += len(records)
        elif not polled and self._erased is not None:
            self._tell_sink(self._erased.refresh_when_idle())
        if time.monotonic() - self._last_checkpoint >= self._checkpoint_interval_s:
            self.checkpoint()
        return polled or len(records)

    def _without_erased(self, records: list[StreamRecord]) -> list[StreamRecord]:
        records = self._without_recommendations(records)
        if self._erased is None or not records:
            return records
        self._tell_sink(self._erased.refresh())
        self._skipped.polled(records)
        kept, dropped = self._erased.split(records)
        if dropped:
            self._skipped.add(dropped)
            self.dropped += len(dropped)
        return kept

    def _without_recommendations(self, records: list[StreamRecord]) -> list[StreamRecord]:
        """Served-recommendation records are left out for sinks that do not take them; the
        commit moves past them like past an erased user's records."""
        if not self._interactions_only or not records:
            return records
        served = RECOMMENDATION_EVENT_TYPE
        if all(r.event.event_type != served for r in records):
            return records
        self._skipped.polled(records)
        self._skipped.add([r for r in records if r.event.event_type == served])
        return [r for r in records if r.event.event_type != served]

    def _tell_sink(self, marks: list[ErasureMark]) -> None:
        if marks and isinstance(self._sink, ErasureAwareSink):
            self._sink.erased(marks)

    def _release(self, shards: list[int]) -> None:
        """Shards moved to another member: drop what this runner and its sink hold of them
        (uncommitted, so the new owner reads them again); writing them too would duplicate."""
        lost = set(shards)
        self._unwritten = [r for r in self._unwritten if r.shard not in lost]
        for shard in lost:
            self._committed.pop(shard, None)
            self._started.pop(shard, None)
        self._skipped.release(lost)
        if isinstance(self._sink, ReleasingSink):
            self._sink.release(lost)

    def checkpoint(self) -> None:
        self._last_checkpoint = time.monotonic()
        self._commit(self._sink.checkpoint(time.time()))

    def _commit(self, safe: Mapping[int, int]) -> None:
        safe = self._skipped.advance(self._floor(safe))
        # Never backwards: a run of skipped records is forgotten once passed, and the sink's
        # own offset may still stop before it (nothing after it written yet).
        changed = {s: o for s, o in safe.items() if self._committed.get(s, -1) < o}
        if changed:
            self._consumer.commit(changed)
            self._committed.update(changed)

    def _floor(self, safe: Mapping[int, int]) -> dict[int, int]:
        """Per shard this runner has read, where the group is done up to: the sink's offset, or
        further where this runner committed or began reading (the group had committed that far).

        The sink's offset alone stops at the last record it wrote: records skipped since (served
        recommendations, erased users) were never passed again after a first commit, and after
        a restart the commit went back to the sink's offset, leaving the group's lag above 0 for
        good. Shards this runner never read are not committed (their commit stands)."""
        floor: dict[int, int] = {}
        for shard, began in self._started.items():
            floor[shard] = max(safe.get(shard, began), self._committed.get(shard, began), began)
        return floor

    def run(self, stop: threading.Event) -> None:
        """Loop until `stop` is set; any failure is logged, counted and retried, never fatal."""
        while not stop.is_set():
            try:
                self.run_once()
            except Exception as exc:  # a dead consumer thread stops its group for good
                stop.wait(self._failed(exc))
            else:
                self.consecutive_failures = 0
                self.failing_since = None
        self.close()

    def _failed(self, exc: Exception) -> float:
        """Record a failure; return how long to wait before the retry."""
        kind = type(exc).__name__
        self.failures[kind] = self.failures.get(kind, 0) + 1
        shared = consumer_failures()
        if shared is not None:
            shared.labels(self.group, kind).inc()
        self.consecutive_failures += 1
        if self.failing_since is None:
            self.failing_since = time.monotonic()
        self.last_error = f"{kind}: {exc}"
        delay = backoff_delay(self.consecutive_failures, *self._backoff)
        if isinstance(exc, UnavailableError):
            log.warning("consumer %s: %s; retrying in %.1f s", self.group, exc, delay)
        else:
            log.exception("consumer %s failed; retrying in %.1f s", self.group, delay)
        return delay

    def drain(self, idle_polls: int = 2) -> int:
        """Process until the stream has nothing more for this group (for imports and tests)."""
        idle = 0
        total = 0
        while idle < idle_polls:
            n = self.run_once()
            total += n
            idle = idle + 1 if n == 0 else 0
        self.checkpoint()
        return total

    def close(self) -> None:
        """Flush the sink, commit what it made durable, leave the group. A failed final commit
        (a rebalance under way) is logged: the sink's own positions make the replay harmless."""
        try:
            self._commit(self._sink.close())
        except UnavailableError as exc:
            log.warning("consumer %s: final commit failed (%s)", self.group, exc)
        finally:
            self._consumer.close()


def start_in_thread(runner: ConsumerRunner, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(
        target=runner.run, args=(stop,), name=f"consumer-{runner.group}", daemon=True
    )
    thread.start()
    return thread
