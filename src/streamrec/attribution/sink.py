"""The ``attribution`` consumer group: which served recommendation each conversion came from.

Rules (the issue's, with the choices the issue left open):

- A ``$recommendation`` record counts one recommendation served and its items shown, in the
  minute it was served, for its campaign; it is remembered for ``attribution_window_s``.
- An event of a conversion type (``conversion_event_types``: click, add_to_cart, purchase by
  default) attributes to the recommendation whose ``recommendation_id`` it carries; without one,
  to the latest recommendation that showed its item to the same user or session.
- A conversion that finds no recommendation is *parked* for ``PARK_S`` (5 minutes, received
  time): the record of its recommendation may come later in the stream (records are written in
  batches every 50 ms, and by whichever API process served them). A recommendation record
  takes the parked conversions it explains (its id, or, without an id, its user or session and
  one of its items, received after it was served). Either way only within ``attribution_window_s`` of serving, measured on the server's
  clock (``received_at`` of both), since an event's own ``timestamp`` comes from the client.
  "Later" is the stream's order: a user's events and recommendations share a shard.
- It counts one conversion of its type for that recommendation's campaign in the minute the
  event was received; a purchase adds its ``event_value`` to the revenue. A client's retry of
  the same ``event_id`` counts once.

Figures per minute are stored; any interval of whole minutes is summed from them.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from streamrec.attribution.records import Served, is_recommendation, served_of
from streamrec.attribution.store import (
    AttributionStore,
    AttributionTx,
    ShownRecommendation,
    open_attribution_store,
)
from streamrec.config import Settings
from streamrec.consumers.erased import user_digest
from streamrec.consumers.store_sink import next_offsets
from streamrec.events import Event
from streamrec.stores.base import ErasureMark
from streamrec.stream.base import StreamRecord

__all__ = ["AttributionRules", "AttributionSink", "user_keys"]

PURGE_INTERVAL_S = 60.0
PURGE_MARGIN_S = 3600.0  # shards read at different speeds: keep a little past the window
PARK_S = 300.0  # how long a conversion waits for the record of its recommendation
RECOMMENDATIONS = "recommendations"
ITEMS_SHOWN = "items_shown"
REVENUE = "revenue"
CONVERSION_PREFIX = "conversion:"


def user_keys(user_id: str | None, session_id: str | None) -> list[str]:
    """The digests a user's and a session's showings are stored under."""
    keys = [user_digest(user_id)] if user_id else []
    return keys + ([user_digest(f"session:{session_id}")] if session_id else [])


class AttributionRules:
    def __init__(self, window_s: float, conversion_types: Sequence[str]) -> None:
        self.window_s = window_s
        self.conversion_types = frozenset(conversion_types)

    def apply(self, tx: AttributionTx, event: Event) -> None:
        if is_recommendation(event):
            self._served(tx, served_of(event))
        elif event.event_type in self.conversion_types:
            self._converted(tx, event)

    def _served(self, tx: AttributionTx, served: Served) -> None:
        variant = (served.experiment, served.variant or "") if served.experiment else None
        keys = user_keys(served.user_id, served.session_id)
        at = served.served_at
        tx.served(served.recommendation_id, served.campaign, variant, keys, served.items, at)
        tx.count(at, served.campaign, RECOMMENDATIONS)
        tx.count(at, served.campaign, ITEMS_SHOWN, len(served.items))
        if variant is not None and keys:
            tx.expose(variant, keys[0], RECOMMENDATIONS, 1.0)
        found = ShownRecommendation(
            (
                served.recommendation_id,
                served.campaign,
                *(variant or (None, None)),
                at,
                keys[0] if keys else None,
            )
        )
        until = at + self.window_s
        for kind, _item, value, received, _key in tx.unpark(
            served.recommendation_id, keys, served.items, at, until
        ):
            self._credit(tx, found, kind, value, received)

    def source(self, tx: AttributionTx, event: Event) -> ShownRecommendation | None:
        """The recommendation ``event`` attributes to, if any (see the module docstring)."""
        if event.recommendation_id:  # unknown yet: parked until its record comes
            found = tx.by_id(event.recommendation_id)
        else:
            keys = user_keys(event.user_id, event.session_id)
            found = tx.last_showing(keys, event.item_id) if keys else None
        if found is None or event.received_at - found.served_at > self.window_s:
            return None
        return found

    def _converted(self, tx: AttributionTx, event: Event) -> None:
        found = self.source(tx, event)
        if found is None:
            keys = [
                user_digest(event.user_id),
                user_digest(f"session:{event.session_id}") if event.session_id else None,
            ]
            tx.park(
                event.event_id,
                keys,
                event.item_id,
                event.recommendation_id,
                event.event_type,
                event.event_value,
                event.received_at,
            )
            return
        self._credit(tx, found, event.event_type, event.event_value, event.received_at)

    def _credit(
        self,
        tx: AttributionTx,
        found: ShownRecommendation,
        event_type: str,
        value: float | None,
        at: float,
    ) -> None:
        """Count one conversion for ``found`` (and its experiment variant's user)."""
        kind = CONVERSION_PREFIX + event_type
        revenue = value if event_type == "purchase" else None
        tx.count(at, found.campaign, kind)
        if revenue is not None:
            tx.count(at, found.campaign, REVENUE, revenue)
        variant, user_key = found.variant, found.user_key
        if variant is not None and user_key is not None:  # the user it was served to
            tx.expose(variant, user_key, kind, 1.0)
            if revenue is not None:
                tx.expose(variant, user_key, REVENUE, revenue)


class AttributionSink:
    """Applies each batch at once (see :mod:`streamrec.attribution.store`): the store's own
    positions are the safe offsets, as for the other store sinks."""

    group = "attribution"
    takes_recommendations = True

    def __init__(self, store: AttributionStore, rules: AttributionRules) -> None:
        self._store = store
        self._rules = rules
        self._safe = dict(store.positions())
        self._purged_at = 0.0
        self._latest_received: float | None = None  # of the records written since the start

    @classmethod
    def from_settings(cls, settings: Settings) -> AttributionSink:
        rules = AttributionRules(settings.attribution_window_s, settings.conversion_event_types)
        return cls(open_attribution_store(settings), rules)

    @property
    def store(self) -> AttributionStore:
        return self._store

    def write(self, records: Sequence[StreamRecord]) -> None:
        reached = next_offsets(records)
        with self._store.batch(reached) as tx:
            for record in self._relevant(tx, records):
                self._rules.apply(tx, record.event)
        for shard, offset in reached.items():
            self._safe[shard] = max(self._safe.get(shard, 0), offset)

    def _relevant(self, tx: AttributionTx, records: Sequence[StreamRecord]) -> list[StreamRecord]:
        types = self._rules.conversion_types
        wanted = [r for r in records if is_recommendation(r.event) or r.event.event_type in types]
        if not wanted:
            return []
        latest = max(r.event.received_at for r in wanted)
        self._latest_received = max(latest, self._latest_received or latest)
        return tx.fresh(wanted, latest + self._rules.window_s)

    def erased(self, marks: Sequence[ErasureMark]) -> None:
        self._store.forget_users(sorted({mark.digest for mark in marks}))

    def checkpoint(self, now: float) -> Mapping[int, int]:
        if time.monotonic() - self._purged_at >= PURGE_INTERVAL_S:
            self._purged_at = time.monotonic()
            # the stream's clock: the newest recommendation stored, or the newest record written
            # (conversions with no recommendation served at all are parked too, and must go)
            known = [t for t in (self._store.latest_served(), self._latest_received) if t]
            if known:
                latest = max(known)
                before = latest - self._rules.window_s - PURGE_MARGIN_S
                self._store.purge(before, latest - PARK_S - PURGE_MARGIN_S)
        return dict(self._safe)

    def close(self) -> Mapping[int, int]:
        safe = dict(self._safe)
        self._store.close()
        return safe
