"""Backend URLs: ``scheme://rest``. SQLite follows the SQLAlchemy convention:
``sqlite:///relative/path.db`` and ``sqlite:////absolute/path.db``."""

from __future__ import annotations

from pathlib import Path

from streamrec.errors import ConfigError


def scheme_of(url: str, key: str) -> str:
    if "://" not in url:
        raise ConfigError(key, f"{url!r} is not a URL (scheme://...)")
    return url.split("://", 1)[0]


def sqlite_path(url: str, key: str) -> Path:
    if not url.startswith("sqlite:///"):
        raise ConfigError(key, f"{url!r}: expected sqlite:///relative or sqlite:////absolute")
    return Path(url.removeprefix("sqlite:///"))


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path.resolve()}"
