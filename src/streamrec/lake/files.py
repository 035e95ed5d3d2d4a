"""The lake's files through fsspec: a local directory today, ``s3://bucket/prefix`` by URL later.

Writes are all-or-nothing. Locally a file is written under a temporary name in the same directory,
fsynced, then renamed over the final name (rename is atomic on POSIX), so a reader or a crashed
writer never sees half a file. Object stores make a PUT visible only when complete, so there the
final name is written directly (a rename would be a copy plus a delete).
"""

from __future__ import annotations

import dataclasses
import os
import uuid

import pyarrow as pa
import pyarrow.parquet as pq
from fsspec import AbstractFileSystem
from fsspec.core import url_to_fs

from streamrec.durable import fsync_dir
from streamrec.extras import extra_for_url, require_extra
from streamrec.lake.layout import EVENTS_DIR, FileName, parse_file_name
from streamrec.s3 import check_reachable

__all__ = ["LakeFile", "LakeFiles"]

TEMP_PREFIX = ".tmp-"
_COMPRESSION = "zstd"


@dataclasses.dataclass(frozen=True, slots=True)
class LakeFile:
    path: str  # as the filesystem names it (no protocol)
    day: str
    name: FileName


class LakeFiles:
    """The lake root on one filesystem: list, write, read and remove its Parquet files."""

    def __init__(self, location: str) -> None:
        extra = extra_for_url(location)
        if extra is not None:
            require_extra(extra, "lake_url")
        fs, root = url_to_fs(location)
        self.fs: AbstractFileSystem = fs
        self.root = str(root).rstrip("/")
        protocols = (fs.protocol,) if isinstance(fs.protocol, str) else tuple(fs.protocol)
        self.protocol = protocols[0]
        self.is_local = "file" in protocols or "local" in protocols
        if not self.is_local:
            check_reachable(fs, self.root, location)  # an error naming the URL, not an empty lake

    def url(self, path: str) -> str:
        """A path as DuckDB (with this filesystem registered) and pyarrow name it."""
        return path if self.is_local else f"{self.protocol}://{path.lstrip('/')}"

    def path(self, *parts: str) -> str:
        return "/".join([self.root, *parts])

    def days(self) -> list[str]:
        """The ``dt`` partitions present, oldest first."""
        base = self.path(EVENTS_DIR)
        if not self.fs.exists(base):
            return []
        names = (p.rstrip("/").rsplit("/", 1)[-1] for p in self.fs.ls(base, detail=False))
        return sorted(n.removeprefix("dt=") for n in names if n.startswith("dt="))

    def list_files(self, day: str | None = None) -> list[LakeFile]:
        """Complete lake files (temporary files left out), of one day or all, in name order."""
        if not self.is_local:
            # s3fs caches listings for the life of the process; other processes add files.
            self.fs.invalidate_cache()
        days = [day] if day is not None else self.days()
        out: list[LakeFile] = []
        for d in days:
            directory = self.path(EVENTS_DIR, f"dt={d}")
            if not self.fs.exists(directory):
                continue
            for p in sorted(self.fs.ls(directory, detail=False)):
                name = parse_file_name(p.rsplit("/", 1)[-1])
                if name is not None:
                    out.append(LakeFile(p, d, name))
        return out

    def write_table(self, path: str, table: pa.Table) -> None:
        """Write `table` as Parquet at `path`, all or nothing (see the module docstring)."""
        directory, base = path.rsplit("/", 1)
        self.fs.makedirs(directory, exist_ok=True)
        if not self.is_local:
            with self.fs.open(path, "wb") as fh:
                pq.write_table(table, fh, compression=_COMPRESSION)
            return
        temp = f"{directory}/{TEMP_PREFIX}{uuid.uuid4().hex}-{base}"
        try:
            with open(temp, "wb") as fh:
                pq.write_table(table, fh, compression=_COMPRESSION)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(temp, path)
        except BaseException:
            if os.path.exists(temp):
                os.unlink(temp)
            raise
        fsync_dir(directory)

    def read_table(self, path: str, columns: list[str] | None = None) -> pa.Table:
        with self.fs.open(path, "rb") as fh:
            return pq.read_table(fh, columns=columns)

    def remove(self, paths: list[str]) -> None:
        for p in paths:
            self.fs.rm(p)

    def size(self, path: str) -> int:
        return int(self.fs.size(path))
