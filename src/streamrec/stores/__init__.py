"""History and user-state stores, chosen by URL (``sqlite:///``, ``redis://``, ``postgresql://``)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import NoReturn

from streamrec.config import Settings
from streamrec.extras import require_extra
from streamrec.stores.base import HistoryEntry, HistoryStore, UserEvent, UserStateStore
from streamrec.urls import scheme_of, sqlite_path

__all__ = [
    "HistoryEntry",
    "HistoryStore",
    "UserEvent",
    "UserStateStore",
    "open_history_store",
    "open_user_state_store",
]

HistoryFactory = Callable[[str, Settings], HistoryStore]
UserStateFactory = Callable[[str, Settings], UserStateStore]


def _sqlite_history(url: str, settings: Settings) -> HistoryStore:
    from streamrec.stores.sqlite_history import SqliteHistoryStore

    return SqliteHistoryStore(
        sqlite_path(url, "history_url"), settings.history_days, settings.sqlite_wal_max_bytes
    )


def _sqlite_user_state(url: str, settings: Settings) -> UserStateStore:
    from streamrec.stores.sqlite_user_state import SqliteUserStateStore

    return SqliteUserStateStore(
        sqlite_path(url, "user_state_url"),
        settings.user_state_max_events,
        settings.event_type_weights,
        settings.exclude_seen_event_types,
        settings.sqlite_wal_max_bytes,
    )


def _redis_history(url: str, settings: Settings) -> HistoryStore:
    require_extra("redis", "history_url")
    from streamrec.stores.redis_history import RedisHistoryStore

    return RedisHistoryStore(url, settings.history_days)


def _redis_user_state(url: str, settings: Settings) -> UserStateStore:
    require_extra("redis", "user_state_url")
    from streamrec.stores.redis_user_state import RedisUserStateStore

    return RedisUserStateStore(
        url,
        settings.user_state_max_events,
        settings.event_type_weights,
        settings.exclude_seen_event_types,
    )


def _postgres_history(url: str, settings: Settings) -> HistoryStore:
    require_extra("postgres", "history_url")
    from streamrec.stores.postgres_history import PostgresHistoryStore

    return PostgresHistoryStore(url, settings.history_days)


def _postgres_user_state(url: str, settings: Settings) -> UserStateStore:
    require_extra("postgres", "user_state_url")
    from streamrec.stores.postgres_user_state import PostgresUserStateStore

    return PostgresUserStateStore(
        url,
        settings.user_state_max_events,
        settings.event_type_weights,
        settings.exclude_seen_event_types,
    )


HISTORY_BACKENDS: dict[str, HistoryFactory] = {
    "sqlite": _sqlite_history,
    "redis": _redis_history,
    "postgresql": _postgres_history,
    "postgres": _postgres_history,
}
USER_STATE_BACKENDS: dict[str, UserStateFactory] = {
    "sqlite": _sqlite_user_state,
    "redis": _redis_user_state,
    "postgresql": _postgres_user_state,
    "postgres": _postgres_user_state,
}


def open_history_store(settings: Settings, url: str | None = None) -> HistoryStore:
    url = url or settings.history_location
    scheme = scheme_of(url, "history_url")
    if scheme not in HISTORY_BACKENDS:
        raise_unsupported("history_url", url, HISTORY_BACKENDS)
    return HISTORY_BACKENDS[scheme](url, settings)


def open_user_state_store(settings: Settings, url: str | None = None) -> UserStateStore:
    url = url or settings.user_state_location
    scheme = scheme_of(url, "user_state_url")
    if scheme not in USER_STATE_BACKENDS:
        raise_unsupported("user_state_url", url, USER_STATE_BACKENDS)
    return USER_STATE_BACKENDS[scheme](url, settings)


def raise_unsupported(key: str, url: str, backends: Mapping[str, object]) -> NoReturn:
    from streamrec.errors import ConfigError

    raise ConfigError(key, f"unsupported URL {url!r}; schemes: {', '.join(sorted(backends))}")
