"""The real-time state across restarts: where its snapshot lives, and how a serving process gets
its state back at start.

A serving process (``serve``, ``api``) writes a snapshot of its :class:`StreamState` every
``SNAPSHOT_INTERVAL_S`` and when it stops, with the stream positions it reflects. At start it
restores the snapshot and counts only the events past those positions, which the stream still
holds; so a restart, a deploy or a crash leaves popularity, trending and co-occurrence as they
were: the events after the last snapshot are replayed. Without a snapshot (a first start after
an upgrade, a lost file), popularity and trending are warmed from the user-state store and
co-occurrence is rebuilt from the newest ``REBUILD_MAX_EVENTS`` events the stream retains.

The snapshot lives next to the models (``model_url``: a folder, or an object store on a
cluster), as ``stream-state/snapshot.npz``; a local write is atomic (temporary file, rename),
an object store makes a PUT visible only when complete. Several API processes of a cluster
follow the whole stream each, so whichever wrote last left a complete state.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence, Set
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
from fsspec.core import url_to_fs

from streamrec.aliases import MemoryAliases, is_alias, segments
from streamrec.events import RECOMMENDATION_EVENT_TYPE
from streamrec.models.layout import write_bytes_atomic
from streamrec.serving.stream_state import StreamState, snapshot_admission
from streamrec.stream.base import EventLog, StreamRecord

if TYPE_CHECKING:
    from streamrec.consumers.admission import ItemAdmission

__all__ = ["SNAPSHOT_INTERVAL_S", "SnapshotStore", "StateFeed", "replay_retained"]

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL_S = 30.0
SNAPSHOT_NAME = "stream-state/snapshot.npz"
REPLAY_BATCH = 20_000
# Without a snapshot, co-occurrence is rebuilt from at most this many of the newest retained
# events, so a start takes seconds, not minutes (the realtime group waits for the rebuild).
REBUILD_MAX_EVENTS = 200_000


class SnapshotStore:
    """One snapshot file in a folder or under an fsspec URL (``s3://bucket/prefix``)."""

    def __init__(self, location: str) -> None:
        self.location = f"{location.rstrip('/')}/{SNAPSHOT_NAME}"

    def load(self) -> bytes | None:
        """The stored snapshot, None when there is none (or it cannot be read: logged)."""
        try:
            if "://" not in self.location:
                path = Path(self.location)
                return path.read_bytes() if path.exists() else None
            fs, path = url_to_fs(self.location)
            return bytes(fs.cat_file(path)) if fs.exists(path) else None
        except (OSError, ValueError) as exc:
            log.warning("cannot read the real-time state snapshot %s: %s", self.location, exc)
            return None

    def save(self, data: bytes) -> None:
        if "://" not in self.location:
            write_bytes_atomic(Path(self.location), data)
            return
        fs, path = url_to_fs(self.location)
        fs.pipe_file(path, data)


class StateFeed:
    """Counts stream records into a :class:`StreamState` exactly once across restarts.

    ``counted`` (per shard, the next offset not yet in the state) comes from the snapshot, or
    from the user-state store when the counts were warmed from it; records below it are skipped,
    except those at or past ``paired``, whose co-occurrence is not in the state yet (a rebuild
    without a snapshot). Replays therefore change nothing."""

    def __init__(
        self,
        state: StreamState,
        counted: Mapping[int, int],
        paired: Mapping[int, int] | None = None,
        store: SnapshotStore | None = None,
        interval_s: float = SNAPSHOT_INTERVAL_S,
    ) -> None:
        self.state = state
        self.counted = dict(counted)
        self.paired = dict(counted if paired is None else paired)
        self.store = store
        self.interval_s = interval_s
        self.saved_at = time.monotonic()
        # something was counted since the last snapshot (a first one is always written)
        self.unsaved = True
        self.ready = threading.Event()  # set once the events before the start are replayed
        # which new records may be counted (the runtime's ItemAdmission: ids only junk events
        # mention stay out of the serving state); None: all
        self.admission: ItemAdmission | None = None
        # the ids waiting for admission when the restored snapshot was written
        self.restored_waiting = b""
        self.aliases = MemoryAliases()  # the anonymous ids' later events count as their user's

    def feed(self, records: Sequence[StreamRecord]) -> None:
        counted, paired = self.counted, self.paired
        fresh = [r for r in records if r.offset >= counted.get(r.shard, 0)]
        pairs_only = [
            r for r in records if paired.get(r.shard, 0) <= r.offset < counted.get(r.shard, 0)
        ]
        for r in pairs_only:
            paired[r.shard] = r.offset + 1
        for r in fresh:
            counted[r.shard] = max(counted.get(r.shard, 0), r.offset + 1)
        self.unsaved = self.unsaved or bool(fresh or pairs_only)
        self._count(pairs_only, self.state.update_pairs)
        self._count(fresh, lambda run: self.state.update(run, self.admission))

    def _count(
        self, records: Sequence[StreamRecord], update: Callable[[list[StreamRecord]], None]
    ) -> None:
        """Count in stream order: the runs of interactions between aliases, each under the
        aliases known then; an alias also carries the anonymous id's last item over to the user
        (as the stores move its rows), so the user's next click pairs with it."""
        if not any(is_alias(r.event) for r in records):
            update(self.aliases.resolve(records))
            return
        for run, alias in segments(records):
            update(self.aliases.resolve(run))
            if alias is not None:
                self.aliases.add(alias.anonymous_id, alias.user_id)
                self.state.merge_user(alias.anonymous_id, alias.user_id)

    def use_admission(self, admission: ItemAdmission) -> None:
        """Count through ``admission`` from now on, with the ids the snapshot had waiting."""
        if self.restored_waiting:
            try:
                admission.load(self.restored_waiting)
            except (msgspec.DecodeError, ValueError) as exc:  # those ids wait from scratch
                log.warning("ignoring the snapshot's ids waiting for admission: %s", exc)
            self.restored_waiting = b""
        self.admission = admission

    def forget(self, digests: Set[str]) -> None:
        """Forget erased users (by the digest of their id) in the state and the ids waiting for
        admission, and write the snapshot again at once: the last one may hold their ids."""
        forgotten = self.state.forget_users(digests)
        self.aliases.forget(digests)
        if self.admission is not None:
            self.admission.forget_users(digests)
        if forgotten or self.admission is not None:
            self.save()

    def skip_to(self, positions: Mapping[int, int]) -> None:
        """Treat everything before ``positions`` as counted (what a replay could not read any
        more, e.g. trimmed by retention, is given up)."""
        for shard, offset in positions.items():
            self.counted[shard] = max(self.counted.get(shard, 0), offset)
            self.paired[shard] = max(self.paired.get(shard, 0), self.counted[shard])

    def maybe_save(self, now: float | None = None) -> bool:
        """Write a snapshot when the last is ``interval_s`` old and something was counted since
        (call from the feeding thread, so the positions match the counts). Returns whether it
        wrote one. An unchanged state is not written again: its positions would only move past
        records the state does not count (served recommendations), which a restart skips anyway,
        and writing costs the serving process about 100 ms of its GIL on a large state."""
        now = time.monotonic() if now is None else now
        if self.store is None or not self.ready.is_set() or not self.unsaved:
            return False
        if now - self.saved_at < self.interval_s:
            return False
        self.save()
        return True

    def save(self) -> None:
        if self.store is None or not self.ready.is_set():
            return
        self.saved_at = time.monotonic()
        self.unsaved = False
        try:
            waiting = b"" if self.admission is None else self.admission.dump()
            self.store.save(self.state.snapshot(self.counted, waiting))
        except Exception:  # a snapshot is an optimisation: serving goes on without it
            log.exception("cannot write the real-time state snapshot %s", self.store.location)


def restore_state(
    state: StreamState,
    store: SnapshotStore,
    warm: Callable[[StreamState], None],
    stored_positions: Mapping[int, int],
) -> StateFeed:
    """The snapshot's state when there is one; else warm counts and a co-occurrence rebuild."""
    data = store.load()
    if data is not None:
        try:
            counted = state.restore(data)
            feed = StateFeed(state, counted, store=store)
            feed.restored_waiting = snapshot_admission(data)
            log.info("real-time state restored from %s", store.location)
            return feed
        except (ValueError, KeyError, OSError) as exc:
            log.warning("ignoring the real-time state snapshot %s: %s", store.location, exc)
    warm(state)
    per_shard = REBUILD_MAX_EVENTS // max(1, len(stored_positions))
    paired = {shard: max(0, offset - per_shard) for shard, offset in stored_positions.items()}
    return StateFeed(state, stored_positions, paired=paired, store=store)


def replay_retained(event_log: EventLog, feed: StateFeed, until: Mapping[int, int]) -> int:
    """Feed the records the stream retains before ``until`` (per shard) that the state lacks,
    and mark the feed ready; returns how many were read. Reads from the oldest offset the state
    lacks (``paired``: the snapshot's positions, or nothing), under no consumer group."""
    consumer = event_log.reader(dict(feed.paired))
    reached = {shard: 0 for shard in until}
    read = 0
    try:
        while any(reached[s] < until[s] for s in until):
            records = consumer.poll(REPLAY_BATCH, 0.2)
            if not records:
                break  # nothing more retained (or the rest was trimmed meanwhile)
            wanted = [
                r
                for r in records
                if r.offset < until.get(r.shard, 0)
                and r.event.event_type != RECOMMENDATION_EVENT_TYPE
            ]
            for r in records:
                reached[r.shard] = max(reached.get(r.shard, 0), r.offset + 1)
            feed.feed(wanted)
            read += len(records)
    finally:
        consumer.close()
    feed.skip_to(until)
    feed.ready.set()
    return read
