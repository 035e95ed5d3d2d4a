"""The stream: :class:`EventLog` backends chosen by URL (``sqlite:///path``, ``kafka://host:port/topic``)."""

from __future__ import annotations

from collections.abc import Callable

from streamrec.config import Settings
from streamrec.errors import ConfigError
from streamrec.extras import require_extra
from streamrec.stream.base import EventLog, ShardStatus, StreamConsumer, StreamRecord
from streamrec.stream.partition import shard_for
from streamrec.urls import sqlite_path

__all__ = [
    "EventLog",
    "ShardStatus",
    "StreamConsumer",
    "StreamRecord",
    "open_event_log",
    "shard_for",
]

EventLogFactory = Callable[[str, Settings], EventLog]


def _open_sqlite(url: str, settings: Settings) -> EventLog:
    from streamrec.stream.sqlite import SqliteEventLog

    path = sqlite_path(url, "stream_url")
    return SqliteEventLog(
        path,
        settings.shard_count,
        settings.max_pending_events,
        settings.consumer_poll_interval_s,
        settings.sqlite_wal_max_bytes,
    )


def _open_kafka(url: str, settings: Settings) -> EventLog:
    require_extra("kafka", "stream_url")
    from streamrec.stream.kafka import open_kafka_event_log  # type: ignore[import-not-found,unused-ignore]

    log: EventLog = open_kafka_event_log(url, settings)
    return log


BACKENDS: dict[str, EventLogFactory] = {"sqlite": _open_sqlite, "kafka": _open_kafka}


def open_event_log(settings: Settings, url: str | None = None) -> EventLog:
    """Open the stream named by `url` (default: the settings' stream location)."""
    url = url or settings.stream_location
    scheme = url.split("://", 1)[0]
    if scheme not in BACKENDS or "://" not in url:
        raise ConfigError("stream_url", f"unsupported stream URL {url!r} (sqlite:// or kafka://)")
    return BACKENDS[scheme](url, settings)
