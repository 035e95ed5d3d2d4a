"""The distributed backends' client libraries are optional extras of the package.

``pip install streamrec`` gives the embedded default (SQLite stream and stores, a local lake and
model folder). ``streamrec[kafka]``, ``[redis]``, ``[postgres]`` and ``[s3]`` add one client library
each, ``[all]`` every one (``make test`` installs it). A backend URL whose library is missing is a
ConfigError naming the setting and the extra to install.
"""

from __future__ import annotations

import importlib

from streamrec.errors import ConfigError

EXTRAS = {"kafka": "confluent_kafka", "redis": "redis", "postgres": "psycopg", "s3": "s3fs"}


def require_extra(extra: str, key: str) -> None:
    """Raise ConfigError(key) unless the client library of `extra` can be imported."""
    module = EXTRAS[extra]
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise ConfigError(
            key,
            f"this backend needs the {module} client library: pip install 'streamrec[{extra}]'"
            " (or 'streamrec[all]')",
        ) from exc


def extra_for_url(url: str) -> str | None:
    """The extra an fsspec URL needs (only s3:// has one)."""
    return "s3" if url.startswith(("s3://", "s3a://")) else None
