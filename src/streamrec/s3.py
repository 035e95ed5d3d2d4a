"""S3 settings for every S3 client of the process, and a clear error when a bucket is out of reach.

The lake and the model registry reach ``s3://`` through fsspec (s3fs, botocore underneath) and
DuckDB through that filesystem; botocore finds the endpoint and credentials by the usual AWS
conventions: ``AWS_ENDPOINT_URL``, ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``,
``AWS_DEFAULT_REGION``, the shared files ``~/.aws/credentials`` and ``~/.aws/config``
(``AWS_PROFILE``), an instance role. The settings ``s3_endpoint_url``, ``s3_region``,
``s3_access_key_id`` and ``s3_secret_access_key``, when set (in the ``--config`` file or as
``STREAMREC_S3_*``), are exported as those variables at start and win over them, so one config
file is enough for every command.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Mapping

from fsspec import AbstractFileSystem

from streamrec.config import Settings
from streamrec.errors import UnavailableError

__all__ = ["LakeUnreachableError", "check_reachable", "export_s3_settings", "quiet_client_logs"]

_CHATTY_LOGGERS = ("botocore", "aiobotocore", "s3fs")

_VARIABLES = (
    ("s3_endpoint_url", "AWS_ENDPOINT_URL"),
    ("s3_region", "AWS_DEFAULT_REGION"),
    ("s3_access_key_id", "AWS_ACCESS_KEY_ID"),
    ("s3_secret_access_key", "AWS_SECRET_ACCESS_KEY"),
)
_checked: set[tuple[str, str]] = set()  # (endpoint, bucket) listed once by this process
_checked_lock = threading.Lock()


class LakeUnreachableError(UnavailableError):
    """An object store location that cannot be listed: the message names the URL and why."""


def quiet_client_logs() -> None:
    """The S3 clients' INFO lines ("Found credentials in environment variables", once per
    client and process) to WARNING: every command and every child of ``serve`` logged them, and
    they say only that the settings above were exported as the AWS variables."""
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)


def export_s3_settings(settings: Settings, env: dict[str, str] | None = None) -> None:
    """Export the S3 settings that are set as the AWS variables (into ``os.environ``)."""
    target = os.environ if env is None else env
    for key, variable in _VARIABLES:
        value = getattr(settings, key)
        if value:
            target[variable] = value


def describe_aws(env: Mapping[str, str] | None = None) -> str:
    """Where the endpoint and credentials come from, for error messages (no secret shown)."""
    env = os.environ if env is None else env
    endpoint = env.get("AWS_ENDPOINT_URL") or "AWS's own (no s3_endpoint_url / AWS_ENDPOINT_URL)"
    if env.get("AWS_ACCESS_KEY_ID"):
        keys = "access key from s3_access_key_id / AWS_ACCESS_KEY_ID"
    elif os.path.exists(os.path.expanduser("~/.aws/credentials")):
        keys = "credentials from ~/.aws/credentials"
    else:
        keys = (
            "no credentials found (set s3_access_key_id and s3_secret_access_key, "
            "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or ~/.aws/credentials)"
        )
    return f"endpoint {endpoint}; {keys}"


def check_reachable(fs: AbstractFileSystem, root: str, url: str) -> None:
    """List the bucket of ``root`` once per process; LakeUnreachableError naming ``url``, the
    bucket and what is missing when that fails (instead of an empty lake)."""
    bucket = root.strip("/").split("/", 1)[0]
    key = (os.environ.get("AWS_ENDPOINT_URL", ""), bucket)
    with _checked_lock:
        if key in _checked:
            return
    try:
        fs.ls(bucket, detail=False)
    except FileNotFoundError as exc:
        raise LakeUnreachableError(
            f"{url}: bucket {bucket!r} does not exist ({describe_aws()})"
        ) from exc
    except Exception as exc:  # botocore's errors do not share a base class with OSError
        raise LakeUnreachableError(
            f"{url} cannot be reached: {type(exc).__name__}: {exc} ({describe_aws()})"
        ) from exc
    with _checked_lock:
        _checked.add(key)
