"""Real servers on loopback for tests, benchmarks and ``make run-cluster``: no mocks.

Each class runs one server in a directory it owns, on a free 127.0.0.1 port (or a given one),
and keeps both across ``restart()`` so data survives, as it would on a real host:

- :class:`KafkaServer`: Apache Kafka 4.x, single-node KRaft (broker + controller), from the
  Maven Central jars that ``scripts/servers/install.sh`` caches.
- :class:`RedisServer`: Debian's ``redis-server``; persistence (RDB ``save``, AOF) is optional.
- :class:`PostgresServer`: PostgreSQL 15 from ``/usr/lib/postgresql/15/bin``, run as the
  ``postgres`` user when we are root (initdb and the server refuse root).
- :class:`S3Server`: s3proxy (S3 API) with its filesystem backend and fixed credentials.

``start()`` blocks until the server answers a real client; ``kill()`` crashes it (SIGKILL) for
fault tests; ``stop()`` is graceful. All are context managers.
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path

from streamrec.testing._postgres import PostgresServer
from streamrec.testing._process import (
    ManagedProcess,
    ServerUnavailableError,
    cache_dir,
    ensure_installed,
    free_port,
    port_open,
    require_binary,
)

__all__ = [
    "KafkaServer",
    "PostgresServer",
    "RedisServer",
    "S3Server",
    "ServerUnavailableError",
]

_KAFKA_LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = out
logger.started.name = kafka.server.KafkaRaftServer
logger.started.level = info
"""


class KafkaServer(ManagedProcess):
    """Single-node KRaft broker; topics are not auto-created (backends create them on purpose)."""

    name = "kafka"
    start_timeout_s = 120.0

    def __init__(
        self, directory: Path, port: int | None = None, heap_mb: int = 512, partitions: int = 1
    ) -> None:
        super().__init__(directory)
        self.port = port or free_port()
        self.controller_port = free_port()
        self.heap_mb = heap_mb
        self.partitions = partitions
        self.home = cache_dir() / "kafka"

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"kafka://{self.bootstrap_servers}"

    def _properties(self) -> str:
        settings = {
            "process.roles": "broker,controller",
            "node.id": "1",
            "controller.quorum.voters": f"1@127.0.0.1:{self.controller_port}",
            "listeners": f"PLAINTEXT://127.0.0.1:{self.port},"
            f"CONTROLLER://127.0.0.1:{self.controller_port}",
            "advertised.listeners": f"PLAINTEXT://127.0.0.1:{self.port}",
            "controller.listener.names": "CONTROLLER",
            "listener.security.protocol.map": "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT",
            "inter.broker.listener.name": "PLAINTEXT",
            "log.dirs": str(self.directory / "data"),
            "num.partitions": str(self.partitions),
            "auto.create.topics.enable": "false",
            # One broker: every internal topic has one replica; few partitions start faster.
            "offsets.topic.replication.factor": "1",
            "offsets.topic.num.partitions": "8",
            "transaction.state.log.replication.factor": "1",
            "transaction.state.log.min.isr": "1",
            "share.coordinator.state.topic.replication.factor": "1",
            "share.coordinator.state.topic.min.isr": "1",
            "group.initial.rebalance.delay.ms": "0",
        }
        return "".join(f"{key}={value}\n" for key, value in settings.items())

    def _prepare(self) -> None:
        ensure_installed("kafka", self.home / "VERSION")
        require_binary("java")
        # The controller port is ours to pick again if another process took it while stopped.
        if port_open(self.controller_port):
            self.controller_port = free_port()
        (self.directory / "server.properties").write_text(self._properties())
        (self.directory / "log4j2.properties").write_text(_KAFKA_LOG4J)
        if not (self.directory / "data" / "meta.properties").exists():
            self._format_storage()

    def _java(self, main_class: str, *args: str) -> list[str]:
        return [
            "java",
            f"-Xmx{self.heap_mb}m",
            "-Xms128m",
            "-XX:+UseG1GC",
            "-XX:MaxGCPauseMillis=20",
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile={self.directory / 'log4j2.properties'}",
            "-cp",
            str(self.home / "libs" / "*"),  # java expands the wildcard itself
            main_class,
            *args,
        ]

    def _format_storage(self) -> None:
        cluster_id = _kafka_cluster_id()
        properties = str(self.directory / "server.properties")
        command = self._java(
            "kafka.tools.StorageTool", "format", "-t", cluster_id, "-c", properties
        )
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise ServerUnavailableError(f"kafka storage format failed: {done.stdout}{done.stderr}")

    def _command(self) -> Sequence[str]:
        return self._java("kafka.Kafka", str(self.directory / "server.properties"))

    def _ready(self) -> bool:
        return port_open(self.port) and "Kafka Server started" in self.log_since_start()

    def _after_ready(self) -> None:
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        admin.list_topics(timeout=30)  # raises KafkaException when no broker answers


class RedisServer(ManagedProcess):
    """redis-server in the foreground; `save` is the RDB schedule ("" = none), `appendonly` AOF."""

    name = "redis"
    start_timeout_s = 30.0

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        save: str = "",
        appendonly: bool = False,
    ) -> None:
        super().__init__(directory)
        self.port = port or free_port()
        self.save = save
        self.appendonly = appendonly

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def _prepare(self) -> None:
        if shutil.which("redis-server") is None:
            ensure_installed("redis", Path("/usr/bin/redis-server"))

    def _command(self) -> Sequence[str]:
        return [
            require_binary("redis-server"),
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--dir", str(self.directory),
            "--save", self.save,
            "--appendonly", "yes" if self.appendonly else "no",
            "--daemonize", "no",
        ]  # fmt: skip

    def _ready(self) -> bool:
        import redis

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=0.5)
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False
        finally:
            client.close()


class S3Server(ManagedProcess):
    """s3proxy speaking the S3 API over HTTP, objects stored as files under `directory/blobs`."""

    name = "s3proxy"
    start_timeout_s = 60.0

    def __init__(
        self,
        directory: Path,
        port: int | None = None,
        bucket: str = "streamrec",
        access_key: str = "streamrec",
        secret_key: str = "streamrec-secret",
        heap_mb: int = 256,
    ) -> None:
        super().__init__(directory)
        self.port = port or free_port()
        self.bucket = bucket
        self.access_key = access_key
        self.secret_key = secret_key
        self.heap_mb = heap_mb
        self.jar = cache_dir() / "s3proxy" / "s3proxy.jar"

    @property
    def url(self) -> str:
        """The endpoint URL (what AWS_ENDPOINT_URL / botocore's endpoint_url take)."""
        return f"http://127.0.0.1:{self.port}"

    def storage_options(self) -> dict[str, object]:
        """fsspec/s3fs options that reach this server: ``fsspec.filesystem("s3", **these)``."""
        return {
            "key": self.access_key,
            "secret": self.secret_key,
            "client_kwargs": {"endpoint_url": self.url, "region_name": "us-east-1"},
        }

    def env(self) -> dict[str, str]:
        """The usual AWS variables that point any S3 client (boto, s3fs, duckdb) here."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_ENDPOINT_URL": self.url,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    def _prepare(self) -> None:
        ensure_installed("s3proxy", self.jar)
        require_binary("java")
        blobs = self.directory / "blobs"
        blobs.mkdir(exist_ok=True)
        settings = {
            "s3proxy.endpoint": self.url,
            "s3proxy.authorization": "aws-v2-or-v4",
            "s3proxy.identity": self.access_key,
            "s3proxy.credential": self.secret_key,
            "jclouds.provider": "filesystem",
            "jclouds.filesystem.basedir": str(blobs),
        }
        text = "".join(f"{key}={value}\n" for key, value in settings.items())
        (self.directory / "s3proxy.conf").write_text(text)

    def _command(self) -> Sequence[str]:
        conf = str(self.directory / "s3proxy.conf")
        return ["java", f"-Xmx{self.heap_mb}m", "-jar", str(self.jar), "--properties", conf]

    def _env(self) -> dict[str, str] | None:
        return {"LOG_LEVEL": "warn"}  # s3proxy's logback config reads it

    def _ready(self) -> bool:
        try:
            with urllib.request.urlopen(self.url + "/", timeout=1):
                return True
        except urllib.error.HTTPError:
            return True  # 403 to an unsigned request: the server is answering
        except OSError:
            return False

    def _after_ready(self) -> None:
        import s3fs

        fs = s3fs.S3FileSystem(**self.storage_options())
        try:
            fs.call_s3("head_bucket", Bucket=self.bucket)
        except FileNotFoundError:
            # s3fs.mkdir() would not do: s3proxy answers GetBucketLocation for any name.
            fs.call_s3("create_bucket", Bucket=self.bucket)


def _kafka_cluster_id() -> str:
    """A KRaft cluster id (a UUID in URL-safe base64) that does not start with "-": the storage
    tool's argument parser would read such an id as an option (1 start in 64 failed)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id
