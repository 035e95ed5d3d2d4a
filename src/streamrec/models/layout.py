"""Where versions and campaigns live under ``model_location``, and how they are written safely.

::

    model_location/
      versions/<version>/arrays.npz     learned arrays (no pickles), see recommenders.persistence
      versions/<version>/model.json     recipe, parameters, checksums of the arrays
      versions/<version>/metadata.json  what the registry shows: metrics, data range, times
      campaigns/<name>.json             {"campaign", "version", "updated_at"}: a named pointer

``model_location`` is a local folder or an object store prefix (``s3://bucket/prefix``); how each
publishes a version or a pointer all at once is in :mod:`streamrec.models.storage`. Either way a
reader sees the old state or the new, never a half.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote

from streamrec.durable import fsync_dir
from streamrec.errors import ValidationError

__all__ = [
    "CAMPAIGNS_DIR",
    "METADATA_FILE",
    "VERSIONS_DIR",
    "campaign_file_name",
    "campaign_from_file_name",
    "check_name",
    "json_bytes",
    "new_version_id",
    "write_bytes_atomic",
]

VERSIONS_DIR = "versions"
CAMPAIGNS_DIR = "campaigns"
METADATA_FILE = "metadata.json"
TMP_PREFIX = ".tmp-"

# Version ids become folder names: no separators, no leading dot, bounded length (no path traversal).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$"
_NAME = re.compile(NAME_PATTERN)


def check_name(kind: str, name: str) -> str:
    """``name`` if it is a safe version id, else ValidationError naming ``kind``."""
    if not _NAME.match(name):
        raise ValidationError(
            kind, f"{name!r} is not a valid {kind}: 1-128 letters, digits, '.', '_' or '-'"
        )
    return name


MAX_CAMPAIGN_NAME = 256


def campaign_file_name(campaign: str) -> str:
    """The pointer file's name: any campaign name (an ARN with ':' and '/' too) percent-encoded,
    so it can never leave the campaigns folder nor be a hidden file."""
    if not campaign or len(campaign) > MAX_CAMPAIGN_NAME or not campaign.isprintable():
        raise ValidationError(
            "campaign", f"must be 1-{MAX_CAMPAIGN_NAME} printable characters, got {campaign!r}"
        )
    encoded = quote(campaign, safe="")
    return ("%2E" + encoded[1:] if encoded.startswith(".") else encoded) + ".json"


def campaign_from_file_name(file_name: str) -> str:
    return unquote(file_name.removesuffix(".json"))


def new_version_id(recipe: str, now: float | None = None) -> str:
    """Sortable by creation time, unique across processes: ``20250102T030405Z-hybrid-1a2b3c``."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return f"{stamp}-{recipe}-{secrets.token_hex(3)}"


def json_bytes(data: Any) -> bytes:
    """Metadata and pointer files as written: stable key order, readable by people."""
    return json.dumps(data, indent=2, sort_keys=True).encode()


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync it, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{TMP_PREFIX}{path.name}.{secrets.token_hex(4)}")
    with tmp.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    fsync_dir(path.parent)
