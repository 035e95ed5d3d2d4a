"""Training jobs started over HTTP: run on a background thread, one at a time, polled by id.

Training takes seconds to minutes, far longer than a request should wait, so
``POST /v1/models/train`` answers 202 with a job id at once. Jobs run one after another (this
machine's cores are shared with serving); their state lives in this process only.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from streamrec.errors import NotFoundError, StreamrecError

__all__ = ["JobState", "TrainingJob", "TrainingJobs"]

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "succeeded", "failed"]
MAX_JOBS_KEPT = 100

TrainFn = Callable[[str | None, bool], dict[str, Any]]


@dataclass
class TrainingJob:
    job_id: str
    recipe: str | None
    activate: bool
    state: JobState = "queued"
    created_at: float = field(default_factory=time.time)
    started_at: float | None = None
    finished_at: float | None = None
    result: dict[str, Any] | None = None
    error: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "job_id": self.job_id,
            "state": self.state,
            "recipe": self.recipe,
            "activate": self.activate,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "version": self.result.get("version") if self.result else None,
            "metrics": self.result.get("metrics") if self.result else None,
            "error": self.error,
        }


class TrainingJobs:
    """Submits ``train_fn(recipe, activate)`` calls to daemon threads, serialised by a lock."""

    def __init__(self, train_fn: TrainFn) -> None:
        self._train = train_fn
        self._jobs: OrderedDict[str, TrainingJob] = OrderedDict()
        self._lock = threading.Lock()  # guards _jobs
        self._run_lock = threading.Lock()  # one training at a time

    def submit(self, recipe: str | None, activate: bool) -> TrainingJob:
        job = TrainingJob(secrets.token_hex(8), recipe, activate)
        with self._lock:
            self._jobs[job.job_id] = job
            while len(self._jobs) > MAX_JOBS_KEPT:
                self._jobs.popitem(last=False)
        threading.Thread(
            target=self._run, args=(job,), name=f"train-{job.job_id}", daemon=True
        ).start()
        return job

    def get(self, job_id: str) -> TrainingJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None:
            raise NotFoundError(f"unknown training job {job_id!r}", "job_id")
        return job

    def wait(self, job_id: str, timeout_s: float) -> TrainingJob:
        """Poll until the job has finished or ``timeout_s`` passed (tests, CLI)."""
        deadline = time.monotonic() + timeout_s
        job = self.get(job_id)
        while job.state in ("queued", "running") and time.monotonic() < deadline:
            time.sleep(0.02)
        return job

    def _run(self, job: TrainingJob) -> None:
        with self._run_lock:
            job.started_at, job.state = time.time(), "running"
            try:
                job.result = self._train(job.recipe, job.activate)
                job.state = "succeeded"
            except StreamrecError as exc:
                job.error, job.state = str(exc), "failed"
            except Exception as exc:  # report, never kill the server
                log.exception("training job %s failed", job.job_id)
                job.error, job.state = f"internal error: {exc}", "failed"
            finally:
                job.finished_at = time.time()
