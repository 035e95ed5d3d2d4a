"""`streamrec cluster run`: options it cannot use are one error naming the option, before Kafka,
Redis, PostgreSQL or s3proxy start (they used to start and stop first, and --shards 0 ended in
Kafka's traceback)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.cli_helpers import assert_usage_error, run_cli


@pytest.mark.parametrize(
    ("option", "value", "fragment"),
    [
        ("--shards", "0", "must be 1-4096, got 0"),
        ("--apis", "0", "must be at least 1, got 0"),
        ("--api-workers", "-1", "must not be negative, got -1"),
        ("--consumers", "0", "must be at least 1, got 0"),
        ("--retrain-interval", "-5", "must not be negative, got -5.0"),
        ("--port", "65535", "the API ports must be 1-65535"),
    ],
)
def test_a_bad_option_is_named_before_anything_starts(
    tmp_path: Path, option: str, value: str, fragment: str
) -> None:
    cluster_dir = tmp_path / "cluster"
    result = run_cli(tmp_path / "data", "cluster", "run", "--dir", str(cluster_dir), option,
                     value, check=False)  # fmt: skip
    assert_usage_error(result, option, fragment)
    assert "starting Kafka" not in result.stdout
    assert not (cluster_dir / "servers").exists()


def test_a_port_in_use_is_named_before_anything_starts(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli(tmp_path / "data", "cluster", "run", "--dir", str(tmp_path / "c"),
                         "--port", str(port), "--apis", "1", check=False)  # fmt: skip
    assert_usage_error(result, "--port", f"ports already in use: [{port}]")
    assert "starting Kafka" not in result.stdout
