"""Records every served recommendation on the stream, off the request path.

``record`` builds the ``$recommendation`` record (:mod:`streamrec.attribution.records`) and
appends it to an in-memory buffer; a background thread hands the buffer to the stream every
``flush_interval_s`` (50 ms) or at ``max_batch`` records, as one write. Why batch: a stream write
per response (a SQLite transaction, or a Kafka produce, per request) cost the recommendation
route a measurable share of its time on a busy machine; one write per 50 ms does not. The price:
records still buffered when a process is killed (not stopped: ``close`` flushes) are lost, and
attribution does not see those recommendations. A record the stream refuses (overloaded, down),
or one beyond ``max_pending`` waiting, is counted in ``dropped`` and logged once per ``LOG_EVERY``
drops, never raised: a recommendation is served even when it cannot be recorded.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from streamrec.attribution.records import Served, served_event
from streamrec.events import Event
from streamrec.serving.service import Recommendations
from streamrec.stream.base import EventLog

__all__ = ["RecommendationRecorder"]

log = logging.getLogger(__name__)

LOG_EVERY = 1000
FLUSH_INTERVAL_S = 0.05
MAX_BATCH = 500
MAX_PENDING = 100_000
CLOSE_TIMEOUT_S = 10.0


class RecommendationRecorder:
    def __init__(
        self,
        event_log: EventLog,
        campaign: str,
        enabled: bool = True,
        flush_interval_s: float = FLUSH_INTERVAL_S,
    ) -> None:
        self._log = event_log
        self._campaign = campaign
        self.enabled = enabled
        self._flush_interval_s = flush_interval_s
        self._lock = threading.Lock()
        self._pending: list[Event] = []
        self._wake = threading.Event()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self.recorded = 0
        self.dropped = 0

    def record(
        self,
        route: str,
        result: Recommendations,
        user_id: str | None = None,
        session_id: str | None = None,
        anchor_item: str | None = None,
        campaign: str | None = None,
        variant: tuple[str, str] | None = None,
    ) -> None:
        """Buffer the record of one response; ``variant`` is (experiment, variant)."""
        if not self.enabled:
            return
        served = Served(
            recommendation_id=result.recommendation_id,
            route=route,
            campaign=campaign or self._campaign,
            user_id=user_id or "",
            session_id=session_id,
            items=[item for item, _ in result.items],
            served_at=0.0,
            model_version=result.version,
            recipe=result.recipe,
            experiment=variant[0] if variant else None,
            variant=variant[1] if variant else None,
        )
        event = served_event(served, anchor_item)
        with self._lock:
            if len(self._pending) >= MAX_PENDING or self._closed.is_set():
                self._count_dropped(1, "too many recommendations waiting to be recorded")
                return
            self._pending.append(event)
            full = len(self._pending) >= MAX_BATCH
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="recommendation-recorder", daemon=True
                )
                self._thread.start()
        if full:
            self._wake.set()

    def _run(self) -> None:
        while not self._closed.is_set():
            self._wake.wait(self._flush_interval_s)
            self._wake.clear()
            self.flush()

    def flush(self) -> Future[None] | None:
        """Hand what is buffered to the stream as one write."""
        with self._lock:
            batch, self._pending = self._pending, []
        if not batch:
            return None
        try:
            future = self._log.submit(batch)
        except Exception as exc:  # a closed or broken stream: serve anyway
            self._count_dropped(len(batch), exc)
            return None
        future.add_done_callback(lambda f: self._done(f, len(batch)))
        return future

    def _done(self, future: Future[None], count: int) -> None:
        exc = future.exception()
        if exc is not None:
            self._count_dropped(count, exc)
            return
        with self._lock:
            self.recorded += count

    def _count_dropped(self, count: int, why: object) -> None:
        with self._lock:
            before = self.dropped
            self.dropped += count
        if before // LOG_EVERY != self.dropped // LOG_EVERY or before == 0:
            log.warning("%d recommendations not recorded so far: %s", self.dropped, why)

    def close(self) -> None:
        """Stop the thread and write what is buffered (before the stream closes)."""
        self._closed.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=CLOSE_TIMEOUT_S)
        future = self.flush()
        if future is not None:
            try:
                future.result(timeout=CLOSE_TIMEOUT_S)
            except Exception as exc:  # logged and counted by _done
                log.warning("recommendations buffered at close were not recorded: %s", exc)
