"""One --config file reaches an S3 lake (endpoint and keys as settings); a lake out of reach is
an error naming its URL and what is missing, never an empty result."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import s3fs

from streamrec.config import Settings
from streamrec.lake.writer import LakeWriter
from streamrec.s3 import export_s3_settings, quiet_client_logs
from streamrec.stream.base import StreamRecord
from streamrec.testing._process import free_port
from streamrec.testing.servers import S3Server
from tests.cli_helpers import run_cli
from tests.factories import random_events

AWS_VARIABLES = ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY",
                 "AWS_DEFAULT_REGION", "AWS_PROFILE")  # fmt: skip


def test_set_s3_settings_become_the_aws_variables() -> None:
    env = {"AWS_ENDPOINT_URL": "http://old", "AWS_PROFILE": "p"}
    export_s3_settings(Settings(s3_endpoint_url="http://new", s3_access_key_id="k"), env)
    assert env == {"AWS_ENDPOINT_URL": "http://new", "AWS_ACCESS_KEY_ID": "k", "AWS_PROFILE": "p"}


@pytest.fixture
def no_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))  # no ~/.aws either
    s3fs.S3FileSystem.clear_instance_cache()
    yield
    s3fs.S3FileSystem.clear_instance_cache()


def write_config(path: Path, lake_url: str, endpoint: str, s3: S3Server) -> Path:
    path.write_text(
        f'lake_url = "{lake_url}"\n'
        f'data_dir = "{path.parent / "data"}"\n'
        f's3_endpoint_url = "{endpoint}"\n'
        's3_region = "us-east-1"\n'
        f's3_access_key_id = "{s3.access_key}"\n'
        f's3_secret_access_key = "{s3.secret_key}"\n'
    )
    return path


@pytest.mark.cluster
def test_the_config_file_alone_reaches_the_lake(
    s3_server: S3Server, no_aws_env: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake = f"s3://{s3_server.bucket}/lake-{uuid.uuid4().hex[:8]}"
    with monkeypatch.context() as m:
        for name, value in s3_server.env().items():
            m.setenv(name, value)
        writer = LakeWriter(lake, flush_bytes=1 << 30, flush_interval_s=3600)
        writer.add([StreamRecord(0, k, e) for k, e in enumerate(random_events(30))])
        writer.close()
    s3fs.S3FileSystem.clear_instance_cache()
    config = write_config(tmp_path / "c.toml", lake, s3_server.url, s3_server)
    result = run_cli(tmp_path / "data", "--config", str(config), "lake", "stats")
    assert "30" in result.stdout


@pytest.mark.cluster
def test_an_unreachable_endpoint_is_an_error_naming_the_url(
    s3_server: S3Server, no_aws_env: None, tmp_path: Path
) -> None:
    lake = f"s3://{s3_server.bucket}/lake"
    dead = f"http://127.0.0.1:{free_port()}"
    config = write_config(tmp_path / "c.toml", lake, dead, s3_server)
    result = run_cli(tmp_path / "data", "--config", str(config), "lake", "stats", check=False)
    assert result.returncode == 2, result.stdout
    assert lake in result.stderr and "cannot be reached" in result.stderr
    assert dead in result.stderr and "Traceback" not in result.stderr


@pytest.mark.cluster
def test_a_missing_bucket_is_named(s3_server: S3Server, no_aws_env: None, tmp_path: Path) -> None:
    lake = "s3://no-such-bucket-here/lake"
    config = write_config(tmp_path / "c.toml", lake, s3_server.url, s3_server)
    result = run_cli(tmp_path / "data", "--config", str(config), "lake", "stats", check=False)
    assert result.returncode == 2 and "no-such-bucket-here" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_s3_clients_info_lines_are_quieted() -> None:
    logger = logging.getLogger("aiobotocore.credentials")
    quiet_client_logs()
    assert not logger.isEnabledFor(logging.INFO)
    assert logger.isEnabledFor(logging.WARNING)
