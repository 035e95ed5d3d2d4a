"""Where the registry's files live: a local folder, or an object store (``s3://bucket/prefix``).

Both keep the layout of :mod:`streamrec.models.layout`; they differ in how a write becomes
visible all at once:

- a local folder builds a version in a hidden temporary folder and renames it into place, and
  replaces a pointer file with ``os.replace`` (both atomic on POSIX);
- an object store has no rename (it would be a copy plus a delete), but makes every PUT visible
  only when complete. A version's files are uploaded first and its ``metadata.json`` last: that
  object is the commit marker, and a version without it (a crashed upload) does not exist for
  readers. A campaign pointer is one small object replaced by a single PUT.

The object store is reached through fsspec (s3fs for ``s3://``) exactly as the lake reaches it:
endpoint and credentials come from the usual AWS variables (``AWS_ENDPOINT_URL``,
``AWS_ACCESS_KEY_ID``...), read by botocore itself.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Hashable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Protocol

from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from streamrec.durable import fsync_dir
from streamrec.errors import ConfigError
from streamrec.extras import extra_for_url, require_extra
from streamrec.models.layout import (
    CAMPAIGNS_DIR,
    METADATA_FILE,
    TMP_PREFIX,
    VERSIONS_DIR,
    write_bytes_atomic,
)

__all__ = ["LocalModelFiles", "ModelFiles", "ObjectModelFiles", "open_model_files"]

log = logging.getLogger(__name__)


class ModelFiles(Protocol):
    """The registry's storage: immutable versions (folders of files) and small pointer files."""

    location: str
    polls_cheaply: bool
    """True when :meth:`pointer_key` costs no network round trip, so it may run on a request."""

    def new_version(self, version: str) -> AbstractContextManager[Path]:
        """An empty local folder; the files written into it become ``version`` on a clean exit,
        all at once, and nothing is published when the block raises."""
        ...

    def version_names(self) -> list[str]:
        """The published versions, in no particular order."""
        ...

    def has_version(self, version: str) -> bool: ...

    def read(self, version: str, name: str) -> bytes:
        """One file of a version; FileNotFoundError when it is missing."""
        ...

    def local_copy(self, version: str) -> AbstractContextManager[Path]:
        """A local folder holding the version's files while the block runs."""
        ...

    def pointer_names(self) -> list[str]:
        """File names of the campaign pointers (see ``layout.campaign_file_name``)."""
        ...

    def read_pointer(self, name: str) -> bytes | None:
        """The pointer's content, None when it does not exist."""
        ...

    def write_pointer(self, name: str, data: bytes) -> None:
        """Replace the pointer in one step: a reader sees the old content or the new."""
        ...

    def pointer_key(self, name: str) -> Hashable | None:
        """Changes whenever the pointer is replaced; None when it does not exist."""
        ...

    def delete_pointer(self, name: str) -> bool:
        """Remove the pointer; False when it did not exist."""
        ...


def open_model_files(location: str, pointers: str = CAMPAIGNS_DIR) -> ModelFiles:
    """The storage for ``model_url``: a path or ``file://`` URL locally, any other fsspec URL
    (``s3://bucket/prefix``) as an object store. ConfigError for a URL no installed fsspec
    filesystem handles. ``pointers``: the folder of the pointer files (campaigns; promotions
    keep theirs next to them the same way)."""
    if location.startswith("file://"):
        return LocalModelFiles(Path(location[len("file://") :]), pointers)
    if "://" not in location:
        return LocalModelFiles(Path(location), pointers)
    extra = extra_for_url(location)
    if extra is not None:
        require_extra(extra, "model_url")
    try:
        # Listings are never cached: another process publishes versions and moves pointers.
        fs, root = url_to_fs(location, use_listings_cache=False)
    except (ImportError, ValueError) as exc:
        raise ConfigError("model_url", f"cannot open {location!r}: {exc}") from exc
    return ObjectModelFiles(fs, str(root), location, pointers)


class LocalModelFiles:
    """A local folder: temporary folder plus rename for versions, ``os.replace`` for pointers."""

    polls_cheaply = True

    def __init__(self, root: Path, pointers: str = CAMPAIGNS_DIR) -> None:
        self.root = root
        self.location = str(root)
        self.versions_dir = root / VERSIONS_DIR
        self.campaigns_dir = root / pointers

    @contextmanager
    def new_version(self, version: str) -> Iterator[Path]:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.versions_dir / f"{TMP_PREFIX}{version}"
        try:
            tmp.mkdir()
            yield tmp
            _fsync_files(tmp)
            os.rename(tmp, self.versions_dir / version)
            fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def version_names(self) -> list[str]:
        # A folder without metadata.json here was damaged after its atomic rename: listed, so
        # the registry can show the error, unlike an object store's never-committed upload.
        if not self.versions_dir.is_dir():
            return []
        return [
            p.name for p in self.versions_dir.iterdir() if not p.name.startswith(".") and p.is_dir()
        ]

    def has_version(self, version: str) -> bool:
        return (self.versions_dir / version).is_dir()

    def read(self, version: str, name: str) -> bytes:
        return (self.versions_dir / version / name).read_bytes()

    @contextmanager
    def local_copy(self, version: str) -> Iterator[Path]:
        yield self.versions_dir / version

    def pointer_names(self) -> list[str]:
        if not self.campaigns_dir.is_dir():
            return []
        return sorted(p.name for p in self.campaigns_dir.glob("*.json"))

    def read_pointer(self, name: str) -> bytes | None:
        try:
            return (self.campaigns_dir / name).read_bytes()
        except FileNotFoundError:
            return None

    def write_pointer(self, name: str, data: bytes) -> None:
        write_bytes_atomic(self.campaigns_dir / name, data)

    def pointer_key(self, name: str) -> Hashable | None:
        try:
            st = (self.campaigns_dir / name).stat()
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)  # os.replace always changes the inode

    def delete_pointer(self, name: str) -> bool:
        try:
            (self.campaigns_dir / name).unlink()
        except FileNotFoundError:
            return False
        fsync_dir(self.campaigns_dir)
        return True


class ObjectModelFiles:
    """An object store through fsspec: ``metadata.json`` last commits a version, one PUT moves
    a pointer, and a pointer is polled with one small GET."""

    polls_cheaply = False

    def __init__(
        self, fs: AbstractFileSystem, root: str, location: str, pointers: str = CAMPAIGNS_DIR
    ) -> None:
        self.fs = fs
        self.location = location
        self.root = root.rstrip("/")
        self.versions_dir = f"{self.root}/{VERSIONS_DIR}"
        self.campaigns_dir = f"{self.root}/{pointers}"

    @contextmanager
    def new_version(self, version: str) -> Iterator[Path]:
        with tempfile.TemporaryDirectory(prefix="streamrec-version-") as staging:
            yield Path(staging)
            self._upload(Path(staging), f"{self.versions_dir}/{version}")

    def _upload(self, staging: Path, prefix: str) -> None:
        files = sorted(p for p in staging.iterdir() if p.name != METADATA_FILE)
        try:
            for file in [*files, staging / METADATA_FILE]:  # the commit marker goes last
                self.fs.put_file(str(file), f"{prefix}/{file.name}")
        except BaseException:
            self._remove_quietly(prefix)
            raise

    def _remove_quietly(self, prefix: str) -> None:
        """Best effort: an upload left behind without its marker is invisible anyway."""
        try:
            self.fs.rm(prefix, recursive=True)
        except Exception as exc:  # the upload's own error is the one to raise
            log.warning("could not remove the partial upload %s: %s", prefix, exc)

    def version_names(self) -> list[str]:
        # One listing of the whole prefix, instead of one request per version folder.
        try:
            paths = self.fs.find(self.versions_dir)
        except FileNotFoundError:
            return []
        names = []
        for path in paths:
            rest = str(path)[len(self.versions_dir) + 1 :].split("/")
            if len(rest) == 2 and rest[1] == METADATA_FILE and not rest[0].startswith("."):
                names.append(rest[0])
        return names

    def has_version(self, version: str) -> bool:
        return bool(self.fs.exists(f"{self.versions_dir}/{version}/{METADATA_FILE}"))

    def read(self, version: str, name: str) -> bytes:
        return bytes(self.fs.cat_file(f"{self.versions_dir}/{version}/{name}"))

    @contextmanager
    def local_copy(self, version: str) -> Iterator[Path]:
        """The version downloaded to a temporary folder (removed afterwards); a missing file is
        left out, so loading reports what is missing."""
        with tempfile.TemporaryDirectory(prefix="streamrec-load-") as folder:
            prefix = f"{self.versions_dir}/{version}"
            for path in self.fs.find(prefix):
                name = str(path).rsplit("/", 1)[-1]
                self.fs.get_file(path, os.path.join(folder, name))
            yield Path(folder)

    def pointer_names(self) -> list[str]:
        try:
            paths = self.fs.ls(self.campaigns_dir, detail=False)
        except FileNotFoundError:
            return []
        names = (str(p).rsplit("/", 1)[-1] for p in paths)
        return sorted(n for n in names if n.endswith(".json"))

    def read_pointer(self, name: str) -> bytes | None:
        try:
            return bytes(self.fs.cat_file(f"{self.campaigns_dir}/{name}"))
        except FileNotFoundError:
            return None

    def write_pointer(self, name: str, data: bytes) -> None:
        self.fs.pipe_file(f"{self.campaigns_dir}/{name}", data)

    def pointer_key(self, name: str) -> Hashable | None:
        # The content itself: a GET of a few hundred bytes costs what a HEAD for the ETag does.
        return self.read_pointer(name)

    def delete_pointer(self, name: str) -> bool:
        try:
            self.fs.rm_file(f"{self.campaigns_dir}/{name}")
        except FileNotFoundError:
            return False
        return True


def _fsync_files(folder: Path) -> None:
    for file in folder.iterdir():
        with file.open("rb") as fh:
            os.fsync(fh.fileno())
    fsync_dir(folder)
