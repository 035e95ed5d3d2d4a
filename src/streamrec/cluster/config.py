"""What a local cluster is made of and the settings its processes share.

:func:`cluster_settings` takes the user's STREAMREC_* settings and points every backend at the
cluster's servers: the stream at Kafka, history at Redis and user state at PostgreSQL (when those
backends are installed; SQLite in ``data_dir`` otherwise, with a note saying so), the attribution
figures and experiments at PostgreSQL, lake and models at s3proxy. :func:`write_config` writes them to ``streamrec.toml`` for every process to read.
"""

from __future__ import annotations

import dataclasses
import os
import secrets
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from streamrec.config import Settings, load_settings, settings_as_toml_dict
from streamrec.errors import ConfigError, StreamrecError
from streamrec.testing._process import ManagedProcess
from streamrec.testing.servers import KafkaServer, PostgresServer, RedisServer, S3Server

__all__ = [
    "GROUPS",
    "S3_BUCKET",
    "ClusterPlan",
    "Servers",
    "cluster_settings",
    "prepare_stream",
    "write_config",
]

GROUPS = ("history", "lake", "realtime", "attribution")
S3_BUCKET = "streamrec"


@dataclasses.dataclass(frozen=True)
class ClusterPlan:
    """What to start. ``instances`` is the number of processes per consumer group."""

    directory: Path = Path(".cluster")
    port: int = 8080
    api_count: int = 2
    api_workers: int = 1  # worker processes of each API host's supervisor
    shard_count: int = 2
    instances: Mapping[str, int] = dataclasses.field(
        default_factory=lambda: dict.fromkeys(GROUPS, 1)
    )
    retrain_interval_s: float = 600.0  # 0: no retraining job
    overrides: Mapping[str, Any] = dataclasses.field(default_factory=dict)

    @property
    def api_ports(self) -> list[int]:
        return [self.port + i for i in range(self.api_count)]


@dataclasses.dataclass(frozen=True)
class Servers:
    kafka: KafkaServer
    redis: RedisServer
    postgres: PostgresServer
    s3: S3Server

    def by_name(self) -> dict[str, ManagedProcess]:
        return {"kafka": self.kafka, "redis": self.redis, "postgres": self.postgres, "s3": self.s3}

    def addresses(self) -> list[tuple[str, str]]:
        return [
            ("kafka", self.kafka.url),
            ("redis", self.redis.url),
            ("postgres", self.postgres.url),
            ("s3", f"{self.s3.url} (bucket {self.s3.bucket})"),
        ]


def cluster_settings(
    plan: ClusterPlan,
    directory: Path,
    servers: Servers,
    notes: list[str],
    env: Mapping[str, str] | None = None,
) -> Settings:
    """The user's settings (STREAMREC_* variables) with the backends pointed at the servers;
    a fallback taken is explained in ``notes``."""
    base = load_settings(env=_streamrec_env(os.environ if env is None else env))
    values: dict[str, Any] = {
        "data_dir": directory / "data",
        "shard_count": plan.shard_count,
        "stream_url": f"{servers.kafka.url}/streamrec-events",
        "history_url": _store_url("history", servers, notes),
        "user_state_url": _store_url("user_state", servers, notes),
        "lake_url": f"s3://{S3_BUCKET}/lake",
        "model_url": _model_url(servers, directory, notes),
        "tracking_id": base.tracking_id or _secret(directory, "tracking_id"),
        "admin_key": base.admin_key or _secret(directory, "admin_key"),
        "retrain_interval_s": plan.retrain_interval_s,
        "port": plan.port,
        # Every API host reads the figures the one attribution group writes, and the experiments
        # any host defines: both in PostgreSQL (docs/attribution.md).
        "attribution_url": servers.postgres.url,
        "experiments_url": servers.postgres.url,
        **s3_settings(servers.s3.env()),
    }
    values.update(plan.overrides)
    return dataclasses.replace(base, **values)


def s3_settings(aws: Mapping[str, str]) -> dict[str, str]:
    """The S3 server's endpoint and keys as settings: the config file alone reaches the lake."""
    return {
        "s3_endpoint_url": aws["AWS_ENDPOINT_URL"],
        "s3_region": aws.get("AWS_DEFAULT_REGION", ""),
        "s3_access_key_id": aws["AWS_ACCESS_KEY_ID"],
        "s3_secret_access_key": aws["AWS_SECRET_ACCESS_KEY"],
    }


def _store_url(part: str, servers: Servers, notes: list[str]) -> str:
    """Redis for history, PostgreSQL for user state, when those backends are installed."""
    from streamrec.stores import HISTORY_BACKENDS, USER_STATE_BACKENDS

    if part == "history":
        wanted, known, url = "redis", set(HISTORY_BACKENDS), servers.redis.url
    else:
        wanted, known, url = "postgresql", set(USER_STATE_BACKENDS), servers.postgres.url
    if wanted in known:
        return url
    notes.append(f"{part}: no {wanted} backend in this build; using SQLite in data_dir")
    return ""


def _model_url(servers: Servers, directory: Path, notes: list[str]) -> str:
    """Models on S3 when the model registry accepts an s3:// location, else in data_dir/models."""
    from streamrec.models.registry import ModelRegistry

    url = f"s3://{S3_BUCKET}/models"
    probe = Settings(data_dir=directory / "data", model_url=url)
    saved = dict(os.environ)
    os.environ.update(servers.s3.env())  # the registry may reach the bucket as it opens
    try:
        ModelRegistry(probe)
    except ConfigError:
        notes.append("models: the registry takes local folders only; using data_dir/models")
        return ""
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return url


def _secret(directory: Path, name: str) -> str:
    """A random value made once and kept in the directory, so restarts keep client keys."""
    path = directory / name
    if not path.exists():
        path.write_text(secrets.token_urlsafe(18) + "\n")
    return path.read_text().strip()


def write_config(
    config_path: Path, env_path: Path, settings: Settings, aws: Mapping[str, str]
) -> None:
    """``streamrec.toml`` for every process (S3 endpoint and keys included), and ``env.sh`` with
    the same AWS variables for other S3 clients (the aws CLI, a notebook)."""
    with config_path.open("wb") as fh:
        tomli_w.dump(settings_as_toml_dict(settings), fh)
    exports = "".join(f"export {k}={v}\n" for k, v in sorted(aws.items()))
    env_path.write_text(exports + f"export STREAMREC_CONFIG={config_path}\n")


def prepare_stream(settings: Settings, timeout_s: float = 60.0) -> None:
    """Create the topic and wait until every partition has a leader, before any process uses it:
    a fresh topic answers "not leader for partition" for a moment, and processes started in that
    moment would fail their first status read."""
    from streamrec.stream import open_event_log

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            log = open_event_log(settings)
            try:
                log.status()
                return
            finally:
                log.close()
        except StreamrecError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


def _streamrec_env(env: Mapping[str, str]) -> dict[str, str]:
    """Only the STREAMREC_* variables that are settings: not the config file (the cluster writes
    its own) nor the server scripts' variables (STREAMREC_CACHE_DIR, STREAMREC_PG_BIN, ...)."""
    keys = {f"STREAMREC_{f.name.upper()}" for f in dataclasses.fields(Settings)}
    return {k: v for k, v in env.items() if k in keys}
