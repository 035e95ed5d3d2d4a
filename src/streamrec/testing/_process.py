"""Process plumbing shared by the real servers: ports, logs, readiness waits, signals.

A server here is a child process that writes to a log file in its own directory. It gets its
own session (so a Ctrl-C meant for the parent does not tear it down mid-test) but is killed
when the parent dies (PR_SET_PDEATHSIG), so a crashed test run leaves no broker behind.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import random
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

_PR_SET_PDEATHSIG = 1


class ServerUnavailableError(RuntimeError):
    """A server cannot be installed or started here; the message says why."""


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A loopback port that nothing listens on right now, chosen *below* the kernel's ephemeral
    range: a port from that range (what binding port 0 gives) can be taken by any outgoing
    connection (a Kafka client's, say) before the server we start binds it."""
    low, _ = _ephemeral_range()
    rng = random.Random()
    for _ in range(200):
        port = rng.randrange(20_000, max(20_001, low))
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """True when something accepts TCP connections on host:port."""
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
        return True
    return False


def cache_dir() -> Path:
    """Where scripts/servers/install.sh puts the server jars (same rules as the script)."""
    explicit = os.environ.get("STREAMREC_CACHE_DIR")
    if explicit:
        return Path(explicit) / "servers"
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "streamrec" / "servers"


def install_script() -> Path | None:
    """The repository's install script, when this package runs from a source checkout."""
    script = Path(__file__).resolve().parents[3] / "scripts" / "servers" / "install.sh"
    return script if script.is_file() else None


def ensure_installed(component: str, marker: Path) -> None:
    """Run install.sh for `component` unless `marker` (a file it installs) already exists."""
    if marker.exists():
        return
    script = install_script()
    if script is None:
        raise ServerUnavailableError(f"{marker} missing and scripts/servers/install.sh not found")
    done = subprocess.run(
        ["bash", str(script), component], capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not marker.exists():
        raise ServerUnavailableError(f"install.sh {component} failed: {done.stderr[-2000:]}")


def require_binary(path_or_name: str) -> str:
    """Resolve a program on PATH (or an absolute path) or explain that it is missing."""
    found = shutil.which(path_or_name)
    if found is None:
        raise ServerUnavailableError(f"{path_or_name} not found; run scripts/servers/install.sh")
    return found


def _die_with_parent() -> None:
    """Runs in the child before exec: SIGKILL it when the parent process goes away."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def wait_until(
    ready: Callable[[], bool],
    timeout_s: float,
    what: str,
    alive: Callable[[], bool] = lambda: True,
    log: Path | None = None,
) -> float:
    """Poll `ready` until it holds; fail early when the process died. Returns seconds waited."""
    start = time.monotonic()
    deadline = start + timeout_s
    while time.monotonic() < deadline:
        if ready():
            return time.monotonic() - start
        if not alive():
            raise ServerUnavailableError(f"{what} exited while starting{log_tail(log)}")
        time.sleep(0.1)
    raise ServerUnavailableError(f"{what} not ready after {timeout_s:.0f}s{log_tail(log)}")


def log_tail(log: Path | None, chars: int = 3000) -> str:
    """The end of a server log, for error messages that must explain a failed start."""
    if log is None or not log.exists():
        return ""
    return "\n--- " + str(log) + " ---\n" + log.read_text(errors="replace")[-chars:]


class ManagedProcess:
    """One server child process: spawn, signal, wait. Subclasses say how to run and probe it."""

    name = "server"
    stop_timeout_s = 30.0
    start_timeout_s = 60.0

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.log_path = self.directory / f"{self.name}.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self.startup_s = 0.0  # seconds the last start() took, for the benchmarks' records
        self._log_offset = 0  # where the current run's output starts in the log

    # -- what subclasses provide -------------------------------------------------------------
    def _prepare(self) -> None:
        """First-start work (format storage, write config); must be safe to run again."""

    def _command(self) -> Sequence[str]:
        raise NotImplementedError

    def _ready(self) -> bool:
        raise NotImplementedError

    def _after_ready(self) -> None:
        """Work that needs the running server (create a database or bucket)."""

    def _run_as(self) -> str | None:
        """A user to run the server as (PostgreSQL refuses root); None keeps ours."""
        return None

    def _env(self) -> dict[str, str] | None:
        """Extra environment variables for the server; None keeps ours unchanged."""
        return None

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    def start(self) -> Self:
        """Start the server and block until it answers clients."""
        if self.running:
            return self
        started = time.monotonic()
        self._prepare()
        extra_env = self._env()
        env = {**os.environ, **extra_env} if extra_env else None
        user = self._run_as()
        self._log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
        with self.log_path.open("ab") as log:
            self._proc = subprocess.Popen(
                list(self._command()),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.directory,
                env=env,
                user=user,
                group=user,
                extra_groups=[] if user else None,
                start_new_session=True,
                preexec_fn=_die_with_parent,
            )
        try:
            wait_until(self._ready, self.start_timeout_s, self.name, self._alive, self.log_path)
            self._after_ready()
        except ServerUnavailableError:
            self.kill()
            raise
        except Exception as exc:  # a client's error while setting up: the server is not usable
            self.kill()
            raise ServerUnavailableError(f"{self.name}: {exc}{log_tail(self.log_path)}") from exc
        except BaseException:
            self.kill()
            raise
        self.startup_s = time.monotonic() - started
        return self

    def _alive(self) -> bool:
        return self.running

    def stop(self) -> None:
        """Graceful stop (SIGTERM, or the subclass's signal); SIGKILL past stop_timeout_s."""
        self._signal_and_wait(self._stop_signal(), self.stop_timeout_s)

    def kill(self) -> None:
        """Crash the server (SIGKILL): no shutdown work, as in a power cut or OOM kill."""
        self._signal_and_wait(signal.SIGKILL, 10.0)

    def restart(self) -> Self:
        """Stop gracefully and start again on the same port and data directory."""
        self.stop()
        return self.start()

    def close(self) -> None:
        """Stop for good; subclasses also free what only a restart would have needed."""
        self.stop()

    def log_since_start(self) -> str:
        """What the server wrote since the last start() (readiness checks read this)."""
        with self.log_path.open("rb") as log:
            log.seek(self._log_offset)
            return log.read().decode(errors="replace")

    def _stop_signal(self) -> signal.Signals:
        return signal.SIGTERM

    def _signal_and_wait(self, sig: signal.Signals, timeout_s: float) -> None:
        proc = self._proc
        if proc is None:
            return
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(sig)
            try:
                proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        self._proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
