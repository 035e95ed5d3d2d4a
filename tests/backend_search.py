"""Where a distributed backend still holds a string: every key and value of a Redis database, every
row of every table of a PostgreSQL schema, every object of an S3 bucket, every file of a folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import psycopg
import redis
from fsspec.core import url_to_fs


def files_holding(folder: Path, text: str) -> list[str]:
    """Files whose bytes hold ``text`` in UTF-8 or in numpy's UTF-32 (string arrays in .npz)."""
    needles = (text.encode(), text.encode("utf-32-le"))
    return [
        str(path.relative_to(folder))
        for path in sorted(folder.rglob("*"))
        if path.is_file() and any(n in path.read_bytes() for n in needles)
    ]


def redis_keys_holding(url: str, text: str) -> list[str]:
    """Keys whose name or any member, field or value holds ``text`` (the whole database)."""
    client = redis.Redis.from_url(url.split("?", 1)[0])
    needle = text.encode()
    found = []
    try:
        for key in client.scan_iter(count=1000):
            if needle in key or any(needle in part for part in _redis_parts(client, key)):
                found.append(key.decode(errors="replace"))
    finally:
        client.close()
    return found


def _redis_parts(client: redis.Redis, key: bytes) -> list[bytes]:
    kind = client.type(key).decode()
    if kind == "string":
        return [cast(bytes, client.get(key) or b"")]
    if kind == "hash":
        pairs = cast(dict[bytes, bytes], client.hgetall(key))
        return [*pairs, *pairs.values()]
    if kind == "zset":
        return cast(list[bytes], client.zrange(key, 0, -1))
    if kind == "set":
        return list(cast(set[bytes], client.smembers(key)))
    if kind == "list":
        return cast(list[bytes], client.lrange(key, 0, -1))
    return [cast(bytes, client.dump(key) or b"")]


def postgres_tables_holding(url: str, text: str) -> list[str]:
    """Tables of the URL's database (every schema but the system ones) with a row holding
    ``text`` in its text form."""
    found = []
    with psycopg.connect(url, autocommit=True) as conn:
        tables = conn.execute(
            "SELECT table_schema, table_name FROM information_schema.tables"
            " WHERE table_schema NOT IN ('pg_catalog', 'information_schema')"
            " AND table_type = 'BASE TABLE'"
        ).fetchall()
        for schema, table in tables:
            row: Any = conn.execute(
                f'SELECT count(*) FROM "{schema}"."{table}" t WHERE strpos(t::text, %s) > 0',
                (text,),
            ).fetchone()
            if row[0]:
                found.append(f"{schema}.{table}")
    return found


def objects_holding(url: str, text: str) -> list[str]:
    """Objects under an fsspec URL (``s3://bucket``) whose bytes hold ``text``."""
    fs, root = url_to_fs(url)
    fs.invalidate_cache()
    needles = (text.encode(), text.encode("utf-32-le"))
    return [
        str(path) for path in fs.find(root) if any(n in bytes(fs.cat_file(path)) for n in needles)
    ]
