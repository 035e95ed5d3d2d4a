"""The attribution consumer group's state: served recommendations still inside the attribution
window, the conversions waiting for their recommendation's record, the figures per minute and
campaign, and each experiment user's figures. Chosen by ``attribution_url``: embedded SQLite in
``data_dir/attribution.db`` by default (:mod:`~streamrec.attribution.sqlite_store`), PostgreSQL
for a cluster whose API hosts must all read the same figures
(:mod:`~streamrec.attribution.postgres_store`).

Both keep one contract: every batch is applied in one transaction together with the stream
position it reaches, and records below the stored positions or with an event id applied before
are skipped, so a replay (a restart, a crash between the write and the group's commit, a
rebalance) counts nothing twice. Users and sessions are stored only as the digest of their id
(``streamrec.consumers.erased.user_digest``), the name an erasure gives them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from streamrec.config import Settings
from streamrec.extras import require_extra
from streamrec.stores import raise_unsupported
from streamrec.stream.base import StreamRecord
from streamrec.urls import scheme_of, sqlite_path

__all__ = [
    "AttributionStore",
    "AttributionTx",
    "Figure",
    "ShownRecommendation",
    "open_attribution_store",
]

PURGE_MAX_ROWS = 10_000


class ShownRecommendation(tuple[str, str, str | None, str | None, float, str | None]):
    """(rec_id, campaign, experiment, variant, served_at, user_key) of a recommendation found
    again."""

    __slots__ = ()

    @property
    def campaign(self) -> str:
        return self[1]

    @property
    def variant(self) -> tuple[str, str] | None:
        return (self[2], self[3] or "") if self[2] else None

    @property
    def served_at(self) -> float:
        return float(self[4])

    @property
    def user_key(self) -> str | None:
        return self[5]


class Figure(tuple[int, str, str, float]):
    """(minute, campaign, metric, value): one stored figure."""

    __slots__ = ()


class AttributionTx(Protocol):
    """The write transaction of one batch: lookups see what the batch itself served."""

    def fresh(self, records: Sequence[StreamRecord], expires_at: float) -> list[StreamRecord]:
        """The records not applied before: past the stored positions, event id not seen; their
        ids are remembered until ``expires_at``."""
        ...

    def served(
        self,
        rec_id: str,
        campaign: str,
        variant: tuple[str, str] | None,
        user_keys: Sequence[str],
        items: Sequence[str],
        served_at: float,
    ) -> None:
        """Remember a served recommendation and what it showed to each of ``user_keys``."""
        ...

    def by_id(self, rec_id: str) -> ShownRecommendation | None: ...

    def last_showing(self, user_keys: Sequence[str], item_id: str) -> ShownRecommendation | None:
        """The latest recommendation that showed ``item_id`` to any of these keys."""
        ...

    def park(
        self,
        event_id: str,
        keys: Sequence[str | None],
        item_id: str,
        rec_id: str | None,
        event_type: str,
        value: float | None,
        at: float,
    ) -> None:
        """Keep a conversion that found no recommendation (``keys``: user, session digest): the
        record of the one it came from may still be on its way (written after the event, or by
        another process)."""
        ...

    def unpark(
        self, rec_id: str, keys: Sequence[str], items: Sequence[str], since: float, until: float
    ) -> list[tuple[str, str, float | None, float, str | None]]:
        """Take the parked conversions this recommendation explains: carrying its id, or with
        no id, from one of ``keys`` on one of ``items``; received in [since, until].
        Returns (event_type, item_id, value, received_at, user_key) in stream order."""
        ...

    def count(self, at: float, campaign: str, metric: str, value: float = 1.0) -> None:
        """Add to a campaign's figure of the minute of ``at`` (stored when the batch ends)."""
        ...

    def expose(self, variant: tuple[str, str], user_key: str, metric: str, value: float) -> None:
        """Add to one user's figure in an experiment's variant."""
        ...


class AttributionStore(Protocol):
    def positions(self) -> dict[int, int]:
        """Per shard, the next stream offset not applied yet."""
        ...

    def batch(self, reached: Mapping[int, int]) -> AbstractContextManager[AttributionTx]:
        """One batch's transaction; the positions ``reached`` are stored with its figures."""
        ...

    def purge(self, before: float, parked_before: float | None = None) -> int:
        """Forget recommendations served before ``before`` (outside every window now), the
        event ids that can no longer be retried into a window, and conversions parked before
        ``parked_before``; return how many rows went."""
        ...

    def latest_served(self) -> float | None: ...

    def forget_users(self, digests: Sequence[str]) -> int:
        """An erasure: the users' (digest-named) showings and experiment figures are deleted."""
        ...

    def figures(self, first_minute: int, end_minute: int, campaign: str | None) -> list[Figure]:
        """Stored figures with minute in [first_minute, end_minute), for one campaign or all,
        by minute and campaign."""
        ...

    def per_user(self, experiment: str) -> list[tuple[str, str, str, float]]:
        """(variant, user_key, metric, value) of every user exposed in ``experiment``."""
        ...

    def totals(self) -> list[tuple[str, str, float]]:
        """(campaign, metric, total) over all time: what Prometheus exports."""
        ...

    def close(self) -> None: ...


def open_attribution_store(settings: Settings) -> AttributionStore:
    """The store ``attribution_url`` names (``sqlite:///`` or ``postgresql://``)."""
    url = settings.attribution_location
    scheme = scheme_of(url, "attribution_url")
    if scheme == "sqlite":
        from streamrec.attribution.sqlite_store import SqliteAttributionStore

        path = sqlite_path(url, "attribution_url")
        return SqliteAttributionStore(path, settings.sqlite_wal_max_bytes)
    if scheme in ("postgresql", "postgres"):
        require_extra("postgres", "attribution_url")
        from streamrec.attribution.postgres_store import PostgresAttributionStore

        return PostgresAttributionStore(url)
    raise_unsupported("attribution_url", url, dict.fromkeys(("sqlite", "postgresql", "postgres")))
