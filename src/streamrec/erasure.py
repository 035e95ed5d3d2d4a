"""Erasing a user everywhere within a minute (``DELETE /v1/users/{user_id}``).

Right away: a mark in the erasure ledger of the user-state store (the user's shard, its head
offset, the SHA-256 digest of the id; see :mod:`streamrec.consumers.erased`) from which every
consumer, in every process, drops the user's events still in the stream below that offset and
every serving process forgets the user in its in-memory state (and rewrites its snapshot); then
the user's history and real-time rows (with the session rows of the same events), the stream's
retained payloads of the user (SQLite; Kafka keeps records until its retention, and the consumers
drop them), and a lake tombstone that hides their Parquet rows from every query. Deleted SQLite
rows are overwritten (``secure_delete``), the files rebuilt and the WAL files truncated, so no
copy stays in freed pages or old frames.

Then, on a thread: a consumer may already hold some of the user's events in a polled batch or in
the lake writer's buffer. The job waits until every consumer group has committed past the stream
position of the erasure on the user's shard (the lake group writes its buffers at once for an
erasure, see :mod:`streamrec.consumers.lake`), erases the stores and the stream again, rewrites
the Parquet files that hold the user's rows, removes the tombstone (which holds the id), has Redis
rewrite its own files, and asks for a retrain (see :mod:`streamrec.models.retrain`: the item-item
statistics of the served model lose what the user contributed; trained models keep no per-user
rows). The job is then ``done``; if the groups do not catch up within ``CATCH_UP_S`` it finishes
anyway as ``partial``.

A user's aliases (see :mod:`streamrec.aliases`) are erased with them: their anonymous ids get
marks, their stream payloads and lake rows go, and the aliases themselves are dropped by the
final step (until then, the anonymous id's late events are still merged into the user, and erased
again).

Jobs are known by a random id and kept in ``data_dir/erasures.db`` (see
:mod:`streamrec.erasure_journal`): the id of the user is there only while the job runs. Closing
the runtime stops the jobs between steps and waits for them; an unfinished one resumes at the
next start of an API process.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamrec.consumers.erased import IDLE_REFRESH_S, user_digest
from streamrec.erasure_journal import ErasureJournal
from streamrec.stream.partition import shard_for

if TYPE_CHECKING:
    from streamrec.runtime import Runtime

log = logging.getLogger(__name__)

CATCH_UP_S = 50.0
_POLL_S = 0.2
_CLOSE_WAIT_S = 60.0  # a job stops between steps; one step (a store's erase) may take this long
_LEASE_S = CATCH_UP_S + 60.0  # a job's process holds it this long before another may resume it


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
        self._journal = ErasureJournal(Path(runtime.settings.data_dir))
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, user_id: str) -> Erasure:
        """Mark the erasure in the ledger, erase what can be erased now; finish on a thread."""
        runtime = self._runtime
        # the user's events are all on their shard, an anonymous id's merged into theirs (see
        # streamrec.aliases) on its own: the groups must pass those shards' heads of now
        ids = [user_id, *runtime.aliases_of(user_id)]
        shards = {i: shard_for(i, runtime.event_log.shard_count) for i in ids}
        heads = {s.shard: s.head for s in runtime.event_log.status() if s.shard in shards.values()}
        now = time.time()
        for one_id, shard in shards.items():
            runtime.user_state.record_erasure(shard, heads.get(shard, 0), user_digest(one_id), now)
        job = Erasure(uuid.uuid4().hex, now)
        self._journal.add(job.as_json(), user_id, heads, _LEASE_S)
        job.counts = runtime.erase_user(user_id)
        self._journal.update(job.as_json())
        self._spawn(job, user_id, heads)
        return job

    def resume(self) -> int:
        """Finish the jobs a stopped process left running (their lease ran out)."""
        claimed = self._journal.claim_unfinished(_LEASE_S)
        for stored, user_id, heads in claimed:
            job = Erasure(**stored)
            log.info("resuming erasure %s", job.erasure_id)
            self._spawn(job, user_id, heads)
        return len(claimed)

    def get(self, erasure_id: str) -> Erasure | None:
        stored = self._journal.get(erasure_id)
        return None if stored is None else Erasure(**stored)

    def close(self) -> None:
        """Stop the jobs between their steps, wait for them, close the journal."""
        self._stop.set()
        with self._lock:
            threads = list(self._threads)
        for thread in threads:
            thread.join(timeout=_CLOSE_WAIT_S)
            if thread.is_alive():
                log.warning("an erasure job is still running as the runtime closes")
        self._journal.close()

    def _spawn(self, job: Erasure, user_id: str, heads: dict[int, int]) -> None:
        thread = threading.Thread(
            target=self._finish, args=(job, user_id, heads), name="erasure", daemon=True
        )
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()]
            self._threads.append(thread)
        thread.start()

    def _finish(self, job: Erasure, user_id: str, heads: dict[int, int]) -> None:
        try:
            caught_up = self._wait_for_groups(heads)
            if self._stop.is_set():  # closing: the next start resumes the job
                self._journal.release(job.erasure_id)
                return
            again = self._runtime.erase_user(user_id, final=True)
            for key, count in again.items():
                job.counts[key] = job.counts.get(key, 0) + count
            self._runtime.request_retrain()
            job.status = "done" if caught_up else "partial"
            if not caught_up:
                job.detail = f"consumer groups did not pass the erasure within {CATCH_UP_S:g} s"
        except Exception as exc:  # reported on the status route
            log.exception("erasure %s failed", job.erasure_id)
            job.status, job.detail = "failed", f"{type(exc).__name__}: {exc}"
        job.finished_at = time.time()
        self._journal.update(job.as_json())

    def _wait_for_groups(self, heads: dict[int, int]) -> bool:
        """Until every group committed past ``heads``, and serving processes that learn the
        marks when idle had the time to (IDLE_REFRESH_S); False after CATCH_UP_S."""
        groups = self._runtime.enabled_groups()
        deadline = time.monotonic() + CATCH_UP_S
        if self._stop.wait(2 * IDLE_REFRESH_S):
            return False
        while time.monotonic() < deadline:
            status = self._runtime.event_log.status(groups)
            mine = [s for s in status if s.shard in heads]
            if all(s.committed.get(g, 0) >= heads[s.shard] for s in mine for g in groups):
                return True
            if self._stop.wait(_POLL_S):
                return False
        return False
