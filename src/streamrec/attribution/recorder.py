"""Records every served recommendation on the stream, off the request path.

``record`` builds the ``$recommendation`` record (:mod:`streamrec.attribution.records`) and hands
it to the stream's group commit without waiting: the response never waits for the write. A
record the stream refuses (overloaded, down) is counted in ``dropped`` and logged once per
``LOG_EVERY`` drops, never raised: a recommendation is still served when it cannot be recorded,
and attribution then simply does not see it.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future

from streamrec.attribution.records import Served, served_event
from streamrec.serving.service import Recommendations
from streamrec.stream.base import EventLog

__all__ = ["RecommendationRecorder"]

log = logging.getLogger(__name__)

LOG_EVERY = 1000


class RecommendationRecorder:
    def __init__(self, event_log: EventLog, campaign: str, enabled: bool = True) -> None:
        self._log = event_log
        self._campaign = campaign
        self.enabled = enabled
        self._lock = threading.Lock()
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
        """Queue the record of one response; ``variant`` is (experiment, variant)."""
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
        try:
            future = self._log.submit([served_event(served, anchor_item)])
        except Exception as exc:  # a closed or broken stream: serve anyway
            self._failed(exc)
            return
        future.add_done_callback(self._done)

    def _done(self, future: Future[None]) -> None:
        exc = future.exception()
        if exc is None:
            with self._lock:
                self.recorded += 1
            return
        self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self.dropped += 1
            dropped = self.dropped
        if dropped % LOG_EVERY == 1:
            log.warning("recommendation not recorded (%d so far): %s", dropped, exc)
