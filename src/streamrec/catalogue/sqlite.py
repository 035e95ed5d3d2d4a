"""The embedded catalogue: one SQLite table in ``data_dir/catalogue.db``.

Categories and properties are stored as JSON text: the request path reads items by primary key
(``get_many`` for the ten or so items of a response) and filters use an in-memory index built
from ``iterate``, so no query ever needs to look inside them. A ``version`` counter bumped by each
write lets every process notice changes made by another (``streamrec import-items``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import orjson

from streamrec.catalogue.base import Item
from streamrec.stores.sqlite_common import SqliteDatabase

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    item_id TEXT PRIMARY KEY, title TEXT, categories TEXT NOT NULL, properties TEXT NOT NULL,
    created_at REAL, hidden INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS catalogue_version (id INTEGER PRIMARY KEY CHECK (id = 0),
    version INTEGER NOT NULL);
INSERT OR IGNORE INTO catalogue_version VALUES (0, 0);
"""
_COLUMNS = "item_id, title, categories, properties, created_at, hidden"
_CHUNK = 500  # bound on SQL variables per statement


def _row(item: Item) -> tuple[Any, ...]:
    return (
        item.item_id,
        item.title,
        orjson.dumps(list(item.categories)).decode(),
        orjson.dumps(dict(item.properties)).decode(),
        item.created_at,
        int(item.hidden),
    )


def _item(row: sqlite3.Row | tuple[Any, ...]) -> Item:
    return Item(
        item_id=str(row[0]),
        title=row[1],
        categories=tuple(orjson.loads(row[2])),
        properties=orjson.loads(row[3]),
        created_at=row[4],
        hidden=bool(row[5]),
    )


class SqliteCatalogue:
    def __init__(self, path: Path) -> None:
        self._db = SqliteDatabase(path, _SCHEMA)

    def upsert(self, items: Sequence[Item]) -> int:
        if not items:
            return 0
        with self._db.transaction() as conn:
            conn.executemany(
                f"INSERT OR REPLACE INTO items ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?)",
                [_row(i) for i in items],
            )
            conn.execute("UPDATE catalogue_version SET version = version + 1")
        return len(items)

    def get(self, item_id: str) -> Item | None:
        row = (
            self._db.reader()
            .execute(f"SELECT {_COLUMNS} FROM items WHERE item_id = ?", (item_id,))
            .fetchone()
        )
        return None if row is None else _item(row)

    def get_many(self, item_ids: Sequence[str]) -> dict[str, Item]:
        out: dict[str, Item] = {}
        conn = self._db.reader()
        unique = list(dict.fromkeys(item_ids))
        for start in range(0, len(unique), _CHUNK):
            chunk = unique[start : start + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for row in conn.execute(
                f"SELECT {_COLUMNS} FROM items WHERE item_id IN ({marks})", chunk
            ):
                out[str(row[0])] = _item(row)
        return out

    def iterate(self) -> Iterator[Item]:
        # A dedicated connection: the scan must not hold the thread's shared reader open.
        conn = sqlite3.connect(self._db.path, timeout=30.0)
        try:
            for row in conn.execute(f"SELECT {_COLUMNS} FROM items"):
                yield _item(row)
        finally:
            conn.close()

    def version(self) -> int:
        row = self._db.reader().execute("SELECT version FROM catalogue_version").fetchone()
        return int(row[0]) if row else 0

    def count(self) -> int:
        return int(self._db.reader().execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def close(self) -> None:
        self._db.close()
