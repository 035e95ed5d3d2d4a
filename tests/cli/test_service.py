"""`streamrec serve` and `consume`: one group runs alone against the same data; a bad start is one
error line that leaves the data dir alone; the banner says what is on."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from streamrec.cli.service import print_banner
from streamrec.config import Settings
from streamrec.stores.sqlite_history import SqliteHistoryStore
from streamrec.stream.sqlite import SqliteEventLog
from tests.cli_helpers import assert_usage_error, run_cli
from tests.factories import random_events


def test_consume_one_group_alone(tmp_path: Path) -> None:
    data = tmp_path / "data"
    log = SqliteEventLog(data / "stream.db", 1)
    log.append(random_events(300))
    log.close()
    env = {**os.environ, "STREAMREC_DATA_DIR": str(data)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamrec.cli", "consume", "history"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 60
        log = SqliteEventLog(data / "stream.db", 1)
        while log.status(["history"])[0].lag("history") and time.monotonic() < deadline:
            time.sleep(0.2)
        assert log.status(["history", "lake"])[0].lag("history") == 0
        assert log.status(["lake"])[0].lag("lake") == 300  # other groups untouched
        log.close()
        second = run_cli(data, "consume", "history", check=False)
        assert second.returncode == 2 and "already running" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)
    store = SqliteHistoryStore(data / "history.db", Settings().history_days)
    assert sum(e.count for u in range(50) for e in store.recent(f"u{u}", 500)) == 300
    store.close()


def test_bad_setting_stops_the_start_naming_the_key(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", env={"STREAMREC_SHARD_COUNT": "-2"}, check=False)
    assert result.returncode == 2
    assert "shard_count" in result.stderr and "Traceback" not in result.stderr
    result = run_cli(tmp_path, "consume", "nope", check=False)
    assert result.returncode == 2 and "unknown consumer group" in result.stderr


def test_a_port_in_use_stops_the_start_and_leaves_the_data_dir_alone(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        result = run_cli(tmp_path / "data", "serve", env={"STREAMREC_PORT": port}, check=False)
    assert_usage_error(result, f"cannot listen on 127.0.0.1:{port}")
    assert not (tmp_path / "data").exists()


def test_an_unreachable_stream_stops_the_start_in_one_line(tmp_path: Path) -> None:
    """A typo in stream_url: one error before any child starts, not every consumer process
    restarting with a traceback (takes the Kafka client's 15 s metadata timeout)."""
    env = {"STREAMREC_STREAM_URL": "kafka://127.0.0.1:1"}
    result = run_cli(tmp_path, "serve", env=env, check=False)
    assert result.returncode == 2, result.stderr
    assert "cannot open the stream (stream_url)" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_root_config_option_reaches_every_command(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    config.write_text("shard_count = -3\n")
    result = run_cli(tmp_path, "--config", str(config), "consume", "history", check=False)
    assert result.returncode == 2 and "shard_count" in result.stderr


@pytest.mark.parametrize(
    ("key", "state"), [(None, "off: start with STREAMREC_ADMIN_KEY"), ("k", "on")]
)
def test_the_banner_says_whether_admin_routes_are_on(
    key: str | None, state: str, capsys: pytest.CaptureFixture[str]
) -> None:
    print_banner(Settings(admin_key=key), "serve")
    assert f"admin routes: {state}" in capsys.readouterr().out
