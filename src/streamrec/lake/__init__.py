"""The data lake (the Firehose + S3 part): Parquet files per day, shard and offset range.

``LakeWriter`` archives stream records, ``LakeReader`` runs DuckDB over them, ``erase_user`` and
``compact`` remove rows. The layout and schema are documented in :mod:`streamrec.lake.layout`.
"""

from __future__ import annotations

from streamrec.lake.erase import CompactReport, compact, compact_all, erase_user, request_erasure
from streamrec.lake.layout import SCHEMA
from streamrec.lake.reader import LakeReader, LakeStats
from streamrec.lake.writer import LakeWriter

__all__ = [
    "SCHEMA",
    "CompactReport",
    "LakeReader",
    "LakeStats",
    "LakeWriter",
    "compact",
    "compact_all",
    "erase_user",
    "request_erasure",
]
