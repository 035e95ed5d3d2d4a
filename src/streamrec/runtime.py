"""The composition root: opens every part named by the settings and wires consumers to sinks.

``streamrec serve`` builds one Runtime and runs the API and all consumer groups in one process;
``streamrec consume GROUP`` builds one and runs a single group; the CLI's other commands build one
for the parts they need. Nothing else decides which backend is used.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from streamrec.attribution.recorder import RecommendationRecorder
from streamrec.attribution.store import AttributionStore, open_attribution_store
from streamrec.catalogue import ItemCatalogue, open_catalogue
from streamrec.config import Settings
from streamrec.consumers.admission import ItemAdmission
from streamrec.consumers.base import Sink
from streamrec.consumers.erased import ErasedFilter
from streamrec.consumers.health import GroupPosition, LagWatch, RunningGroup, consumer_problems
from streamrec.consumers.runner import ConsumerRunner, start_in_thread
from streamrec.consumers.store_sink import StoreSink
from streamrec.errors import ConfigError
from streamrec.experiments.store import ExperimentStore, open_experiment_store
from streamrec.models.registry import ModelRegistry
from streamrec.models.storage import open_model_files
from streamrec.s3 import export_s3_settings
from streamrec.serving.promotions import PROMOTIONS_DIR, PromotionStore
from streamrec.serving.service import RecommendationService
from streamrec.serving.state_snapshot import (
    SnapshotStore,
    StateFeed,
    replay_retained,
    restore_state,
)
from streamrec.stores import HistoryStore, UserStateStore, open_history_store, open_user_state_store
from streamrec.stores.base import ScrubsAfterErasure
from streamrec.stream import EventLog, open_event_log

if TYPE_CHECKING:
    from streamrec.erasure import ErasureJobs
    from streamrec.processes.table import ProcessTable

log = logging.getLogger(__name__)

GROUPS = ("history", "lake", "realtime", "attribution")
MAINTENANCE_INTERVAL_S = 60.0
ERASURE_MARK_MARGIN_S = 3600.0


def enabled_groups(settings: Settings) -> list[str]:
    """The consumer groups these settings run (history and lake can be switched off)."""
    groups = []
    if settings.recently_visited_items:
        groups.append("history")
    if settings.datalake:
        groups.append("lake")
    groups.append("realtime")
    if settings.record_recommendations:
        groups.append("attribution")
    return groups


class Runtime:
    def __init__(self, settings: Settings, serving: bool = True) -> None:
        """`serving=False` (a consumer or maintenance process of ``serve``) skips warming the
        in-memory serving state, which only processes answering requests use."""
        self.settings = settings
        export_s3_settings(settings)
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
        self.event_log: EventLog = open_event_log(settings)
        self.history: HistoryStore | None = (
            open_history_store(settings) if settings.recently_visited_items else None
        )
        self.user_state: UserStateStore = open_user_state_store(settings)
        self.catalogue: ItemCatalogue = open_catalogue(settings)
        # Store reads may wait on a network (Redis, PostgreSQL): requests run them off the loop.
        self.remote_reads = not all(
            location.startswith("sqlite")
            for location in (settings.history_location, settings.user_state_location)
        )
        self.models = ModelRegistry(settings)
        self.promotions = PromotionStore(open_model_files(settings.model_location, PROMOTIONS_DIR))
        self.recommendations = RecommendationService(
            settings, self.user_state, self.catalogue, lambda: self.models
        )
        # consumer and maintenance processes of ``serve`` answer no requests: no restore or warm-up
        self.state_feed = (
            self._restore_stream_state()
            if serving
            else StateFeed(self.recommendations.stream, self.user_state.positions())
        )
        self.item_admission = ItemAdmission(
            self.recommendations.space,
            settings.stream_item_min_users,
            settings.stream_item_max_pending,
            self._item_exists,
        )
        self.state_feed.use_admission(self.item_admission)
        self.recommendations.waiting = self.item_admission.waiting
        self.recorder = RecommendationRecorder(
            self.event_log, settings.campaign, settings.record_recommendations
        )
        self._attribution: AttributionStore | None = None
        self._experiments: ExperimentStore | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.runners: list[ConsumerRunner] = []
        self.running: list[RunningGroup] = []
        self.lag_watch = LagWatch()
        self.started_at = time.time()
        self.start_hooks: list[Callable[[Runtime], None]] = []
        # Set in the API workers of a supervised ``serve``: the processes /v1/status shows.
        self.process_table: ProcessTable | None = None
        self._erasures: ErasureJobs | None = None
        self._erasures_lock = threading.Lock()

    def _restore_stream_state(self) -> StateFeed:
        """The real-time state from its snapshot, else warmed from the store (see
        :mod:`streamrec.serving.state_snapshot`); snapshots are written only by serving
        processes (:meth:`keep_snapshots`)."""
        store = SnapshotStore(self.settings.model_location)
        feed = restore_state(
            self.recommendations.stream,
            store,
            lambda state: state.warm(self.user_state),
            self.user_state.positions(),
        )
        feed.store = None
        self._snapshot_store = store
        return feed

    def keep_snapshots(self) -> None:
        """Write the real-time state's snapshot (``serve`` and ``api`` call this)."""
        self.state_feed.store = self._snapshot_store

    # -- consumers -----------------------------------------------------------------------------

    def enabled_groups(self) -> list[str]:
        return enabled_groups(self.settings)

    def make_sink(self, group: str, serving: bool = True) -> Sink:
        """The sink for a group. `serving=False` (a batch job such as an import catching up)
        leaves out this process's in-memory serving state, which the job would throw away."""
        if group == "history":
            if self.history is None:
                raise ConfigError("recently_visited_items", "is false: the history group is off")
            return StoreSink("history", self.history)
        if group == "realtime" and not serving:
            return StoreSink("realtime", self.user_state)
        if group == "realtime":
            from streamrec.consumers.realtime import RealtimeSink

            return RealtimeSink(self.user_state, self.state_feed)
        if group == "lake":
            if not self.settings.datalake:
                raise ConfigError("datalake", "is false: the lake group is off")
            from streamrec.consumers.lake import LakeSink

            return LakeSink.from_settings(self.settings)
        if group == "attribution":
            if not self.settings.record_recommendations:
                raise ConfigError("record_recommendations", "is false: attribution is off")
            from streamrec.attribution.sink import AttributionSink

            return AttributionSink.from_settings(self.settings)
        raise ConfigError("group", f"unknown consumer group {group!r}; one of {', '.join(GROUPS)}")

    def make_runner(
        self, group: str, batch_size: int | None = None, serving: bool = True
    ) -> ConsumerRunner:
        s = self.settings
        return ConsumerRunner(
            self.event_log,
            self.make_sink(group, serving),
            batch_size=batch_size or s.consumer_batch_size,
            checkpoint_interval_s=s.checkpoint_interval_s,
            erased=ErasedFilter(self.user_state),
        )

    def _item_exists(self, item_id: str) -> bool:
        """In the active model's vocabulary or in the catalogue (stream item admission)."""
        active = self.models.active(self.settings.campaign)
        vocab = active.model.item_vocab if active is not None else None
        if vocab is not None and vocab.index(item_id) >= 0:
            return True
        return self.catalogue.get(item_id) is not None

    def start_consumers(self, groups: Sequence[str] | None = None) -> None:
        for group in groups or self.enabled_groups():
            runner = self.make_runner(group)
            if group == "realtime":
                self._watch(runner, self._start_realtime(runner))
            else:
                self.start_runner(runner)

    def start_runner(self, runner: ConsumerRunner) -> None:
        """Run a consumer group on a thread of this process, watched by /healthz and /metrics."""
        self._watch(runner, start_in_thread(runner, self._stop))

    def _watch(self, runner: ConsumerRunner, thread: threading.Thread) -> None:
        self.runners.append(runner)
        self.running.append(RunningGroup(runner, thread))
        self._threads.append(thread)

    def _start_realtime(self, runner: ConsumerRunner) -> threading.Thread:
        """The realtime group, after replaying into the in-memory state the events it lacks
        (those past its snapshot, or the retained ones for co-occurrence); the API answers
        from the restored state meanwhile."""
        until = self.user_state.positions()

        def run() -> None:
            try:
                replay_retained(self.event_log, self.state_feed, until)
            except Exception:  # the state stays as restored; the consumer must still run
                log.exception("replaying the stream into the real-time state failed")
                self.state_feed.skip_to(until)
                self.state_feed.ready.set()
            runner.run(self._stop)

        thread = threading.Thread(target=run, name="consumer-realtime", daemon=True)
        thread.start()
        return thread

    def consumer_problems(self) -> dict[str, str]:
        """Consumer group -> why it is not ready (see streamrec.consumers.health)."""
        groups = self.enabled_groups()
        shards = self.event_log.status(groups)
        positions = {
            group: GroupPosition(
                sum(shard.lag(group) for shard in shards),
                sum(shard.committed.get(group, 0) for shard in shards),
            )
            for group in groups
        }
        return consumer_problems(
            self.running,
            positions,
            self.lag_watch,
            time.monotonic(),
            self.settings.consumer_stall_s,
        )

    def start_stream_tail(self) -> None:
        """For API-only processes: follow the stream to keep the in-memory counts current."""
        from streamrec.consumers.realtime import StreamTailSink

        group = f"api-tail-{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        heads = {s.shard: s.head for s in self.event_log.status()}
        sink = StreamTailSink(group, self.state_feed, heads)
        runner = ConsumerRunner(
            self.event_log,
            sink,
            batch_size=self.settings.consumer_batch_size,
            erased=ErasedFilter(self.user_state),
        )
        self._threads.append(start_in_thread(runner, self._stop))

    def start_maintenance(self) -> None:
        thread = threading.Thread(target=self._maintain, name="maintenance", daemon=True)
        thread.start()
        self._threads.append(thread)
        self.start_retraining()

    def start_retraining(self) -> None:
        """Retrain in this process when retrain_interval_s or retrain_after_events is set."""
        from streamrec.models.retrain import start_retraining

        thread = start_retraining(self.settings, self.models, self._stop, self.events_seen)
        if thread is not None:
            self._threads.append(thread)

    def events_seen(self) -> int:
        """Events ever appended to the stream (the sum of shard heads)."""
        return sum(s.head for s in self.event_log.status())

    def _maintain(self) -> None:
        while not self._stop.wait(MAINTENANCE_INTERVAL_S):
            self.run_maintenance()

    def run_maintenance(self, now: float | None = None) -> None:
        """Purge every expired history row, event-id mark and old activity bucket, and trim the
        stream past its retention."""
        now = time.time() if now is None else now
        try:
            if self.history is not None:
                self.history.purge_expired(now)
            self.user_state.purge_expired(now)
            retained_since = now - self.settings.stream_retention_hours * 3600.0
            self.event_log.trim(retained_since)
            # a mark is needed while the stream may still hold an event it drops
            self.user_state.forget_erasures(retained_since - ERASURE_MARK_MARGIN_S)
        except Exception:  # maintenance must never take the service down
            log.exception("maintenance failed; will retry")

    def after_start(self) -> None:
        """Hooks run once the runtime is up in a serving process (e.g. seeding the demo shop)."""
        self.models.active(self.settings.campaign)  # load the served model before any request
        self.recommendations.catalogue.index()  # build the filter index before any request
        for hook in self.start_hooks:
            hook(self)

    def lake_stats(self) -> dict[str, Any]:
        """Files, rows and bytes in the lake ({"enabled": false} when the lake is off)."""
        if not self.settings.datalake:
            return {"enabled": False}
        from streamrec.lake.reader import LakeReader

        stats = LakeReader(self.settings.lake_location).stats()
        return {"enabled": True, **dataclasses.asdict(stats)}

    @property
    def attribution(self) -> AttributionStore:
        """The attribution group's figures, for reading (opened on first use)."""
        if self._attribution is not None:  # the request path: no lock once open
            return self._attribution
        with self._erasures_lock:
            if self._attribution is None:
                self._attribution = open_attribution_store(self.settings)
            return self._attribution

    @property
    def experiments(self) -> ExperimentStore:
        """The experiments (``experiments_url``, opened on first use)."""
        if self._experiments is not None:  # the request path: no lock once open
            return self._experiments
        with self._erasures_lock:
            if self._experiments is None:
                self._experiments = open_experiment_store(self.settings)
            return self._experiments

    @property
    def erasures(self) -> ErasureJobs:
        """The erasure jobs (opened on first use: only API processes erase)."""
        with self._erasures_lock:
            if self._erasures is None:
                from streamrec.erasure import ErasureJobs

                self._erasures = ErasureJobs(self)
            return self._erasures

    def request_retrain(self) -> None:
        """Ask the retraining loop for a new version of every served campaign (an erasure: the
        item-item statistics must lose what the erased user contributed)."""
        from streamrec.models.retrain import request_retrain

        request_retrain(self.models)

    def aliases_of(self, user_id: str) -> list[str]:
        """The anonymous ids aliased to the user, in any store (see streamrec.aliases)."""
        found = set(self.user_state.aliases_of(user_id))
        if self.history is not None:
            found.update(self.history.aliases_of(user_id))
        return sorted(found - {user_id})

    def erase_user(self, user_id: str, final: bool = False) -> dict[str, int]:
        """Erase a user's history, real-time state and retained stream payloads now, and hide
        their lake rows (a tombstone); the same for the anonymous ids aliased to them. `final`
        (see streamrec.erasure: once every group has passed the erasure) drops the aliases,
        rewrites the lake files holding their rows and drops the tombstones."""
        anonymous = self.aliases_of(user_id)
        counts: dict[str, int] = {}
        if final:
            dropped = self.user_state.forget_aliases(user_id)
            if self.history is not None:
                dropped += self.history.forget_aliases(user_id)
            counts["aliases_deleted"] = dropped
        for one_id in [user_id, *anonymous]:
            for key, count in self._erase_one(one_id, final).items():
                counts[key] = counts.get(key, 0) + count
        if final:
            for store in (self.history, self.user_state):
                if isinstance(store, ScrubsAfterErasure):
                    store.scrub_after_erasure()
        return counts

    def _erase_one(self, user_id: str, final: bool) -> dict[str, int]:
        history_rows = self.history.erase_user(user_id) if self.history is not None else 0
        counts = {
            "history_rows_deleted": history_rows,
            "state_events_deleted": self.user_state.erase_user(user_id),
            "stream_events_deleted": self.event_log.erase_user(user_id),
        }
        if self.settings.datalake:
            from streamrec.lake import erase

            location = self.settings.lake_location
            if final:
                counts["lake_rows_deleted"] = erase.erase_user(location, user_id)
                erase.forget_erasure(location, user_id)
            else:
                erase.request_erasure(location, user_id)
        return counts

    def close(self) -> None:
        self._stop.set()
        with self._erasures_lock:
            if self._erasures is not None:  # before the stores close: jobs still use them
                self._erasures.close()
        for thread in self._threads:
            thread.join(timeout=30)
        self.recorder.close()  # its buffer goes to the stream before the stream closes
        self.event_log.close()
        if self.history is not None:
            self.history.close()
        self.user_state.close()
        self.catalogue.close()
        if self._attribution is not None:
            self._attribution.close()
        if self._experiments is not None:
            self._experiments.close()
