"""Settings: one typed, frozen object read once at start from a TOML file and STREAMREC_* variables.

Precedence: defaults < TOML file (``--config PATH`` or ``STREAMREC_CONFIG``) < environment variables.
Every key of :class:`Settings` is a flat top-level TOML key and has an environment variable named
``STREAMREC_`` + the key in upper case. Lists are given in the environment as comma-separated text
(or JSON), mappings as JSON. A wrong value or an unknown key raises :class:`ConfigError` naming it.

The names in the first block mirror the AWS "Personalize ingestion pipeline" sample's parameters:
CustomerInteractionShardCount -> shard_count, TrackingId -> tracking_id, CampaignArn -> campaign,
CreateRecentlyVisitedItems -> recently_visited_items, StoreUserInteractionInDatalake -> datalake,
ViewedItemHistoryDays -> history_days.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from streamrec.errors import ConfigError
from streamrec.urls import sqlite_url

ENV_PREFIX = "STREAMREC_"
CONFIG_ENV = "STREAMREC_CONFIG"

DEFAULT_EVENT_TYPE_WEIGHTS = {
    "view": 1.0,
    "impression": 0.5,
    "click": 2.0,
    "rating": 3.0,
    "add_to_cart": 4.0,
    "purchase": 8.0,
}


@dataclasses.dataclass(frozen=True)
class Settings:
    # The AWS sample's parameters.
    shard_count: int = 1
    tracking_id: str | None = None
    campaign: str = "default"
    recently_visited_items: bool = True
    datalake: bool = True
    history_days: int = 30
    # Where things live and listen.
    data_dir: Path = Path("./data")
    host: str = "127.0.0.1"
    port: int = 8080
    workers: int = 0  # API processes of `streamrec serve`; 0: one per core
    # responses on one kept-alive connection before it is closed, so that clients' connections
    # move between API workers (processes/keepalive.py); 0: never closed
    keepalive_requests: int = 100
    # `nice` increment of the processes whose work can wait (the lake and attribution groups,
    # maintenance and its retraining): the cores go to API workers and the history and realtime
    # groups first. 0: all equal.
    background_nice: int = 10
    admin_key: str | None = None
    allowed_origins: tuple[str, ...] = ()
    # Stream and lake.
    stream_retention_hours: int = 168
    lake_flush_interval_s: float = 60.0
    lake_flush_bytes: int = 5_242_880
    # Backends by URL; empty means the embedded default under data_dir.
    stream_url: str = ""
    history_url: str = ""
    user_state_url: str = ""
    lake_url: str = ""
    model_url: str = ""
    # S3 (lake_url / model_url s3://...): empty means the usual AWS chain (AWS_* variables,
    # ~/.aws/credentials and config, an instance role); set, they win (see streamrec.s3).
    s3_endpoint_url: str = ""
    s3_region: str = ""
    s3_access_key_id: str = ""
    s3_secret_access_key: str = ""
    # Consumers.
    consumer_batch_size: int = 5000  # the most a consumer applies at once (when behind)
    consumer_poll_interval_s: float = 0.005
    checkpoint_interval_s: float = 1.0
    # /healthz answers 503 when a group has failed, or processed nothing while events wait, this long.
    consumer_stall_s: float = 120.0
    # Recommender.
    recipe: str = "default"
    user_state_max_events: int = 200
    exploration_weight: float = 0.0
    exclude_seen_event_types: tuple[str, ...] = ("purchase", "rating")
    event_type_weights: Mapping[str, float] = dataclasses.field(
        default_factory=lambda: dict(DEFAULT_EVENT_TYPE_WEIGHTS)
    )
    # Personalize's eventsConfig eventValueThreshold: per event type, events with a lower
    # event_value are left out of training and real-time state (streamrec.event_thresholds).
    event_value_thresholds: Mapping[str, float] = dataclasses.field(default_factory=dict)
    trending_window_s: float = 3600.0
    retrain_interval_s: float = 0.0
    retrain_after_events: int = 0
    ease_max_items: int = 20_000
    # The default recipe's optional sequence term: seconds to train its SASRec model in (0 =
    # none); needs the streamrec[sequential] extra, and its weight is learned on validation.
    sequence_budget_s: float = 0.0
    # Seeds of that SASRec model, sharing the budget, whose logits are averaged (a member that
    # lowers the average's validation NDCG@10 is dropped). Two: each trains about 30 epochs of
    # 300 s, near its peak (docs/sequential.md, runs 10 and 11).
    sequence_members: int = 2
    # Overload protection: events waiting for the stream writer before 503.
    max_pending_events: int = 100_000
    # How long POST /v1/events waits for the stream to confirm a write before a 503 + Retry-After.
    append_timeout_s: float = 10.0
    # Each embedded SQLite file's WAL is checkpointed and truncated when it grows past this.
    sqlite_wal_max_bytes: int = 64 << 20
    # Per-client limit on POST /v1/events and /interaction (requests a second; 0 = off), its burst
    # (0 = twice the rate), and whether requests with the admin key are limited too.
    event_rate_limit_per_s: float = 0.0
    event_rate_limit_burst: int = 0
    event_rate_limit_admin: bool = False
    # A new item id from the stream enters the serving item space (popularity, trending,
    # co-occurrence) once this many distinct users sent events about it (1 = at once); ids
    # waiting are counted in an LRU of at most stream_item_max_pending (consumers/admission.py).
    stream_item_min_users: int = 2
    stream_item_max_pending: int = 100_000
    # Attribution (streamrec.attribution): every served recommendation is recorded on the
    # stream; a later event of a conversion type on one of its items, within the window, counts
    # for its campaign (revenue: event_value of purchases).
    record_recommendations: bool = True
    attribution_window_s: float = 86_400.0
    conversion_event_types: tuple[str, ...] = ("click", "add_to_cart", "purchase")
    # Where the attribution group keeps its figures and where experiments are defined: empty
    # means SQLite files in data_dir (one host); postgresql://... for several hosts.
    attribution_url: str = ""
    experiments_url: str = ""

    def __post_init__(self) -> None:
        _check_ranges(self)

    @property
    def stream_location(self) -> str:
        return self.stream_url or sqlite_url(self.data_dir / "stream.db")

    @property
    def history_location(self) -> str:
        return self.history_url or sqlite_url(self.data_dir / "history.db")

    @property
    def user_state_location(self) -> str:
        return self.user_state_url or sqlite_url(self.data_dir / "user_state.db")

    @property
    def lake_location(self) -> str:
        return self.lake_url or str(self.data_dir / "lake")

    @property
    def attribution_location(self) -> str:
        """The attribution consumer group's figures."""
        return self.attribution_url or sqlite_url(self.data_dir / "attribution.db")

    @property
    def experiments_location(self) -> str:
        return self.experiments_url or sqlite_url(self.data_dir / "experiments.db")

    @property
    def model_location(self) -> str:
        return self.model_url or str(self.data_dir / "models")


_POSITIVE = (
    "shard_count",
    "history_days",
    "stream_retention_hours",
    "lake_flush_bytes",
    "consumer_batch_size",
    "user_state_max_events",
    "ease_max_items",
    "max_pending_events",
    "sqlite_wal_max_bytes",
    "stream_item_min_users",
    "stream_item_max_pending",
    "sequence_members",
)
_NON_NEGATIVE = (
    "retrain_interval_s",
    "retrain_after_events",
    "consumer_poll_interval_s",
    "event_rate_limit_per_s",
    "event_rate_limit_burst",
    "workers",
    "keepalive_requests",
    "sequence_budget_s",
)


def _check_ranges(s: Settings) -> None:
    for key in _POSITIVE:
        if getattr(s, key) <= 0:
            raise ConfigError(key, f"must be positive, got {getattr(s, key)!r}")
    for key in _NON_NEGATIVE:
        if getattr(s, key) < 0:
            raise ConfigError(key, f"must not be negative, got {getattr(s, key)!r}")
    for key in (
        "lake_flush_interval_s",
        "checkpoint_interval_s",
        "trending_window_s",
        "consumer_stall_s",
        "append_timeout_s",
        "attribution_window_s",
    ):
        if getattr(s, key) <= 0:
            raise ConfigError(key, f"must be positive, got {getattr(s, key)!r}")
    if s.shard_count > 4096:  # stores.sqlite_user_state.MAX_SHARDS
        raise ConfigError("shard_count", f"must be at most 4096, got {s.shard_count!r}")
    if not 0 <= s.background_nice <= 19:
        raise ConfigError("background_nice", f"must be 0-19, got {s.background_nice!r}")
    if not 0 < s.port < 65536:
        raise ConfigError("port", f"must be 1-65535, got {s.port!r}")
    if not 0.0 <= s.exploration_weight <= 1.0:
        raise ConfigError(
            "exploration_weight", f"must be from 0 to 1, got {s.exploration_weight!r}"
        )
    if s.tracking_id is not None and not s.tracking_id.strip():
        raise ConfigError("tracking_id", "must not be empty")


def _field_types() -> dict[str, Any]:
    hints = get_type_hints(Settings)
    return {f.name: hints[f.name] for f in dataclasses.fields(Settings)}


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    if get_origin(tp) in (Union, types.UnionType):
        args = [a for a in get_args(tp) if a is not type(None)]
        return args[0], True
    return tp, False


def _coerce(key: str, tp: Any, value: Any, from_env: bool) -> Any:
    """Convert a TOML or environment value to the field's type, or raise ConfigError naming the key."""
    base, optional = _unwrap_optional(tp)
    if optional and (value is None or (from_env and value == "")):
        return None
    origin = get_origin(base) or base
    try:
        if base is bool:
            return _to_bool(value, from_env)
        if base in (int, float):
            return _to_number(base, value, from_env)
        if base is str:
            return _require(value, str)
        if base is Path:
            return Path(_require(value, str))
        if origin is tuple:
            return tuple(_require(v, str) for v in _to_list(value, from_env))
        if origin in (Mapping, dict):
            raw = json.loads(value) if from_env else value
            return {
                str(k): float(_to_number(float, v, False)) for k, v in _require(raw, dict).items()
            }
    except (TypeError, ValueError) as exc:
        raise ConfigError(key, f"expected {_type_name(tp)}, got {value!r}") from exc
    raise ConfigError(key, f"unsupported type {tp!r}")  # pragma: no cover - a programming error


def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def _require(value: Any, tp: type) -> Any:
    if not isinstance(value, tp):
        raise TypeError(f"not a {tp.__name__}")
    return value


def _to_bool(value: Any, from_env: bool) -> bool:
    if from_env:
        text = str(value).strip().lower()
        if text in ("1", "true", "yes", "on"):
            return True
        if text in ("0", "false", "no", "off"):
            return False
        raise ValueError(text)
    return bool(_require(value, bool))


def _to_number(tp: type, value: Any, from_env: bool) -> Any:
    if from_env:
        return tp(str(value).strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError("not a number")
    if tp is int and not isinstance(value, int):
        raise TypeError("not an integer")
    return tp(value)


def _to_list(value: Any, from_env: bool) -> list[Any]:
    if from_env:
        text = str(value).strip()
        if text.startswith("["):
            return list(_require(json.loads(text), list))
        return [part.strip() for part in text.split(",") if part.strip()]
    return list(_require(value, list))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigError("config", f"file not found: {path}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config", f"{path} is not valid TOML: {exc}") from exc


def load_settings(
    config_path: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    **overrides: Any,
) -> Settings:
    """Build Settings from defaults, the TOML file, then the environment, then explicit overrides."""
    env = os.environ if env is None else env
    field_types = _field_types()
    values: dict[str, Any] = {}
    path = config_path or env.get(CONFIG_ENV)
    if path:
        for key, raw in _read_toml(Path(path)).items():
            if key not in field_types:
                raise ConfigError(key, f"unknown key in {path}")
            values[key] = _coerce(key, field_types[key], raw, from_env=False)
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX) or name == CONFIG_ENV:
            continue
        key = name[len(ENV_PREFIX) :].lower()
        if key not in field_types:
            raise ConfigError(name, "unknown streamrec environment variable")
        values[key] = _coerce(name, field_types[key], raw, from_env=True)
    values.update(overrides)
    return Settings(**values)


def settings_as_toml_dict(settings: Settings) -> dict[str, Any]:
    """The settings as plain TOML-serialisable values (None left out), e.g. for .cluster/streamrec.toml."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(settings):
        value = getattr(settings, f.name)
        if value is None:
            continue
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[f.name] = value
    return out
