"""The processes of a local cluster: servers first, then streamrec's, stopped in reverse.

:class:`LocalCluster` starts the real servers (Kafka, Redis, PostgreSQL, s3proxy, from
:mod:`streamrec.testing.servers`), writes the settings every process shares to
``<dir>/streamrec.toml``, then starts the streamrec processes as separate OS processes, exactly as
they would run on separate hosts, each the supervisor of ``streamrec serve --roles ROLE``: API
hosts (several, on consecutive ports, ``api_workers`` worker processes each), consumer hosts (one
or more instances per group) and a maintenance host that retrains when due. Nothing is shared between them but the
servers and that file, so what works here works across hosts.

Every child gets a pid file in ``<dir>/pids`` (see :mod:`streamrec.cluster.pids`). Children also
die with the parent (PR_SET_PDEATHSIG), so a ``kill -9`` of ``cluster run`` leaves none running.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

from streamrec.cluster.config import (
    GROUPS,
    S3_BUCKET,
    ClusterPlan,
    Servers,
    cluster_settings,
    prepare_stream,
    write_config,
)
from streamrec.cluster.pids import die_with_parent, write_pid_file
from streamrec.config import Settings
from streamrec.errors import StreamrecError
from streamrec.testing._process import free_port, port_open, wait_until
from streamrec.testing.servers import KafkaServer, PostgresServer, RedisServer, S3Server

__all__ = ["LocalCluster", "Member"]

MEMBER_STOP_S = 8.0  # a streamrec process flushes and commits within this after SIGTERM


@dataclasses.dataclass
class Member:
    """One streamrec process of the cluster (an API, a consumer instance, the retrain job)."""

    name: str
    args: list[str]
    env: dict[str, str]
    log_path: Path
    pid_path: Path
    ready_text: str | None = None
    port: int | None = None
    proc: subprocess.Popen[bytes] | None = None
    log_offset: int = 0  # where this run's output starts in the (appended) log

    def log_since_start(self) -> str:
        if not self.log_path.exists():
            return ""
        with self.log_path.open("rb") as log:
            log.seek(self.log_offset)
            return log.read().decode(errors="replace")

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class LocalCluster:
    """Servers + streamrec processes under one directory; ``start()``, ``stop()``, context manager."""

    def __init__(self, plan: ClusterPlan) -> None:
        self.plan = plan
        self.directory = plan.directory.resolve()
        self.config_path = self.directory / "streamrec.toml"
        self.env_path = self.directory / "env.sh"
        self._servers: Servers | None = None
        self.members: dict[str, Member] = {}
        self.settings: Settings | None = None
        self.notes: list[str] = []

    # -- servers ---------------------------------------------------------------------------------

    def _ports(self) -> dict[str, int]:
        """Server ports, kept across runs in ports.json (Kafka's KRaft metadata names them)."""
        path = self.directory / "ports.json"
        saved: dict[str, int] = json.loads(path.read_text()) if path.exists() else {}
        ports = {name: p for name, p in saved.items() if not port_open(p)}
        for name in ("kafka", "redis", "postgres", "s3"):
            ports.setdefault(name, free_port())
        path.write_text(json.dumps(ports) + "\n")
        return ports

    def start_servers(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        ports = self._ports()
        base = self.directory / "servers"
        self._servers = Servers(
            kafka=KafkaServer(base / "kafka", ports["kafka"], partitions=self.plan.shard_count),
            redis=RedisServer(base / "redis", ports["redis"], save="60 1000", appendonly=True),
            postgres=PostgresServer(base / "postgres", ports["postgres"]),
            s3=S3Server(base / "s3", ports["s3"], bucket=S3_BUCKET),
        )
        for name, server in self._servers.by_name().items():
            server.start()
            if server.pid is not None:
                stop_signal = server._stop_signal()  # SIGINT for PostgreSQL's fast shutdown
                write_pid_file(self._pid_path(f"server-{name}"), server.pid, stop_signal)

    @property
    def servers(self) -> Servers:
        if self._servers is None:
            raise StreamrecError("the cluster's servers are not started")
        return self._servers

    def aws_env(self) -> dict[str, str]:
        """The AWS variables every process needs to reach the lake and models on s3proxy."""
        return self.servers.s3.env()

    # -- streamrec processes -------------------------------------------------------------------

    def child_env(self, extra: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment of a child: no STREAMREC_* leaks in; the TOML file is the one truth."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("STREAMREC_")}
        env.update(self.aws_env())
        env["STREAMREC_CONFIG"] = str(self.config_path)
        env["PYTHONUNBUFFERED"] = "1"  # readiness is read from the logs
        env.update(extra or {})
        return env

    def plan_members(self) -> list[Member]:
        """One ``streamrec serve --roles ...`` supervisor per simulated host: the API hosts
        (``api_workers`` worker processes each), one host per consumer instance of each group the
        settings switch on, and one for maintenance (retraining when due)."""
        workers = {"STREAMREC_WORKERS": str(self.plan.api_workers)}
        members = [
            self._member(
                f"api-{port}", _serve("api"), {"STREAMREC_PORT": str(port), **workers}, port=port
            )
            for port in self.plan.api_ports
        ]
        from streamrec.runtime import enabled_groups

        switched_on = enabled_groups(self.settings) if self.settings is not None else GROUPS
        for group in (g for g in GROUPS if g in switched_on):
            for i in range(self.plan.instances.get(group, 0)):
                ready = f"consuming group {group}"
                members.append(self._member(f"consume-{group}-{i}", _serve(group), ready=ready))
        if self.plan.retrain_interval_s > 0:
            ready = "maintenance running"
            members.append(self._member("retrain", _serve("maintenance"), ready=ready))
        return members

    def _member(
        self,
        name: str,
        args: list[str],
        extra: Mapping[str, str] | None = None,
        port: int | None = None,
        ready: str | None = None,
    ) -> Member:
        return Member(
            name=name,
            args=[sys.executable, "-m", "streamrec.cli", *args],
            env=self.child_env(extra),
            log_path=self.directory / "logs" / f"{name}.log",
            pid_path=self._pid_path(name),
            ready_text=ready,
            port=port,
        )

    def _pid_path(self, name: str) -> Path:
        return self.directory / "pids" / f"{name}.pid"

    def spawn(self, member: Member) -> None:
        """Start one member (again): its log is appended to, its pid file rewritten."""
        member.log_path.parent.mkdir(parents=True, exist_ok=True)
        member.log_offset = member.log_path.stat().st_size if member.log_path.exists() else 0
        with member.log_path.open("ab") as log:
            member.proc = subprocess.Popen(
                member.args,
                env=member.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches `cluster run`, which stops us in order
                preexec_fn=die_with_parent,
            )
        write_pid_file(member.pid_path, member.proc.pid, signal.SIGTERM)

    def wait_ready(self, member: Member, timeout_s: float = 90.0) -> None:
        def ready() -> bool:
            if member.port is not None:
                return _healthy(member.port)
            return member.ready_text is None or member.ready_text in member.log_since_start()

        try:
            wait_until(ready, timeout_s, member.name, lambda: member.running, member.log_path)
        except RuntimeError as exc:
            raise StreamrecError(str(exc)) from exc

    def start_members(self) -> None:
        taken = [p for p in self.plan.api_ports if port_open(p)]
        if taken:
            raise StreamrecError(f"ports already in use: {taken} (set STREAMREC_PORT)")
        members = self.plan_members()
        for member in members:
            self.members[member.name] = member
            self.spawn(member)
        for member in members:
            self.wait_ready(member)

    def restart(self, name: str, timeout_s: float = 120.0) -> None:
        """Start a member again after it exited or was killed.

        After a SIGKILL the broker keeps the dead consumer in its group until the session times
        out (45 s by default), and a rebalance cannot finish before: a new member started then
        gives up joining and, dying, leaves one more dead member behind. So a consumer is
        restarted only once its group holds no more members than the live instances."""
        member = self.members[name]
        if member.running:
            self.stop_member(member)
        group = _consumer_group(member)
        if group is not None:
            self.wait_for_group_size(group, self._live_instances(group), timeout_s)
        self.spawn(member)
        self.wait_ready(member, timeout_s)

    def _live_instances(self, group: str) -> int:
        return sum(1 for m in self.members.values() if m.running and _consumer_group(m) == group)

    def wait_for_group_size(self, group: str, size: int, timeout_s: float) -> None:
        """Wait until the Kafka consumer group has at most ``size`` members (dead ones evicted)."""
        from confluent_kafka.admin import AdminClient

        admin = AdminClient({"bootstrap.servers": self.servers.kafka.bootstrap_servers})
        kafka_group = self.kafka_group_id(group)

        def small_enough() -> bool:
            found = admin.describe_consumer_groups([kafka_group])[kafka_group].result(30)
            return len(found.members) <= size

        try:
            wait_until(small_enough, timeout_s, f"eviction of dead members of {group}")
        except RuntimeError as exc:
            raise StreamrecError(str(exc)) from exc

    def kafka_group_id(self, group: str) -> str:
        """The Kafka consumer group behind one of our groups (Kafka's ids are per stream)."""
        from streamrec.stream.kafka import parse_kafka_url
        from streamrec.stream.kafka_consumer import kafka_group_id

        if self.settings is None:
            raise StreamrecError("the cluster is not started")
        return kafka_group_id(parse_kafka_url(self.settings.stream_location).topic, group)

    def kill(self, name: str) -> None:
        """SIGKILL one member: no shutdown work, as in an OOM kill or a power cut."""
        member = self.members[name]
        if member.proc is not None:
            member.proc.kill()
            member.proc.wait(timeout=10)

    def stop_member(self, member: Member, timeout_s: float = 30.0) -> None:
        if member.proc is not None and member.proc.poll() is None:
            member.proc.send_signal(signal.SIGTERM)
            try:
                member.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                member.proc.kill()
                member.proc.wait(timeout=10)
        member.pid_path.unlink(missing_ok=True)

    # -- whole cluster ----------------------------------------------------------------------------

    def start(self) -> Self:
        try:
            self.start_servers()
            self.settings = cluster_settings(self.plan, self.directory, self.servers, self.notes)
            write_config(self.config_path, self.env_path, self.settings, self.aws_env())
            prepare_stream(self.settings)
            self.start_members()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Members first (consumers flush and commit), then the servers they were using; each
        tier is signalled at once and waited for together, so a stop takes as long as its
        slowest process, not the sum (``make stop-cluster`` is meant to take seconds)."""
        members = [m for m in self.members.values() if m.running]
        for member in members:
            assert member.proc is not None
            member.proc.send_signal(signal.SIGTERM)
        for member in members:
            self.stop_member(member, MEMBER_STOP_S)
        for member in self.members.values():
            member.pid_path.unlink(missing_ok=True)
        if self._servers is None:
            return
        servers = list(self._servers.by_name().items())
        threads = [threading.Thread(target=server.close, name=f"stop-{n}") for n, server in servers]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        for name, _ in servers:
            self._pid_path(f"server-{name}").unlink(missing_ok=True)

    def crashed(self) -> Iterator[Member]:
        """Members that exited although nobody stopped them."""
        return (m for m in self.members.values() if m.proc is not None and not m.running)

    def endpoints(self) -> list[tuple[str, str]]:
        """(what, where) for every server and member, as ``cluster run`` prints them."""
        rows = self.servers.addresses()
        for member in self.members.values():
            pid = member.proc.pid if member.proc is not None else "-"
            where = f"http://127.0.0.1:{member.port}" if member.port else f"pid {pid}"
            rows.append((member.name, where))
        return rows

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, et: type[BaseException] | None, ev: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


def _serve(role: str) -> list[str]:
    return ["serve", "--roles", role]


def _consumer_group(member: Member) -> str | None:
    """The group a consumer member runs (None for APIs and the retrain job)."""
    role = member.args[member.args.index("--roles") + 1]
    return role if role in GROUPS else None


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1.0) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False
