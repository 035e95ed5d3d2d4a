"""Erasing a user everywhere within a minute (``DELETE /v1/users/{user_id}``).

Right away: the user's history and real-time rows (with the session rows of the same events), the
stream's retained payloads of the user (SQLite; Kafka keeps records until its retention), and a
lake tombstone that hides their Parquet rows from every query. Deleted SQLite rows are overwritten
(``secure_delete``) and the WAL files truncated, so no copy stays in freed pages or old frames.

Then, on a thread: a consumer may already hold some of the user's events in a polled batch or in
the lake writer's buffer. The job waits until every consumer group has committed past the stream
position of the erasure (everything held then is applied), erases the stores and the stream again,
rewrites the Parquet files that hold the user's rows, and removes the tombstone (which holds the
id). The job is then ``done``; if the groups do not catch up within ``CATCH_UP_S`` it finishes
anyway as ``partial``. Jobs are kept in memory, known by a random id that is not the user id.

Not covered here: the serving process's in-memory maps and trained models (see the README).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from streamrec.runtime import Runtime

log = logging.getLogger(__name__)

CATCH_UP_S = 50.0
_POLL_S = 0.2


@dataclasses.dataclass
class Erasure:
    erasure_id: str
    requested_at: float
    status: str = "running"  # running, done, partial, failed
    finished_at: float | None = None
    detail: str = ""
    counts: dict[str, int] = dataclasses.field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


class ErasureJobs:
    def __init__(self, runtime: Runtime) -> None:
        self._runtime = runtime
        self._jobs: dict[str, Erasure] = {}
        self._lock = threading.Lock()

    def start(self, user_id: str) -> Erasure:
        """Erase what can be erased now; finish the rest on a thread."""
        runtime = self._runtime
        heads = {s.shard: s.head for s in runtime.event_log.status()}
        job = Erasure(uuid.uuid4().hex, time.time(), counts=runtime.erase_user(user_id))
        with self._lock:
            self._jobs[job.erasure_id] = job
        thread = threading.Thread(
            target=self._finish, args=(job, user_id, heads), name="erasure", daemon=True
        )
        thread.start()
        return job

    def get(self, erasure_id: str) -> Erasure | None:
        with self._lock:
            return self._jobs.get(erasure_id)

    def _finish(self, job: Erasure, user_id: str, heads: dict[int, int]) -> None:
        try:
            caught_up = self._wait_for_groups(heads)
            again = self._runtime.erase_user(user_id, final=True)
            for key, count in again.items():
                job.counts[key] = job.counts.get(key, 0) + count
            job.status = "done" if caught_up else "partial"
            if not caught_up:
                job.detail = f"consumer groups did not pass the erasure within {CATCH_UP_S:g} s"
        except Exception as exc:  # reported on the status route
            log.exception("erasure %s failed", job.erasure_id)
            job.status, job.detail = "failed", f"{type(exc).__name__}: {exc}"
        job.finished_at = time.time()

    def _wait_for_groups(self, heads: dict[int, int]) -> bool:
        groups = self._runtime.enabled_groups()
        deadline = time.monotonic() + CATCH_UP_S
        while time.monotonic() < deadline:
            status = self._runtime.event_log.status(groups)
            if all(s.committed.get(g, 0) >= heads.get(s.shard, 0) for s in status for g in groups):
                return True
            time.sleep(_POLL_S)
        return False
