"""LakeReader: SQL over the lake with DuckDB, for people (``streamrec lake query``) and training.

Views on every query's connection:

- ``events_raw``: every stored row, with ``dt`` from the directory name;
- ``erasures``: the erase requests (user_id, requested_at);
- ``events``: what analysis should see: one row per ``event_id`` (the first received, because a
  client may retry an event with the same id and the retry may land in another file or day), and
  no row of a user received before that user's erase request, even before compaction has removed
  the rows physically; interactions only (no served recommendations);
- ``recommendations``: one row per served recommendation (the stream's ``$recommendation``
  records, see :mod:`streamrec.attribution.records`), with the same de-duplication and erasure
  rules: recommendation_id, route, campaign, recipe, model_version, experiment, variant,
  user_id, session_id, items (the list shown, position = index + 1), served_at, dt.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from typing import Any

import duckdb
import pyarrow as pa

from streamrec.errors import ValidationError
from streamrec.lake.files import LakeFiles
from streamrec.lake.layout import ERASURE_SCHEMA, ERASURES_DIR, EVENTS_DIR, SCHEMA, earliest_day_for

__all__ = ["LakeReader", "LakeStats"]

_EVENTS_SQL = """
CREATE OR REPLACE TEMP VIEW stored AS
SELECT e.* FROM events_raw e
WHERE NOT EXISTS (
    SELECT 1 FROM erasures x WHERE x.user_id = e.user_id AND e.received_at <= x.requested_at
)
QUALIFY row_number() OVER (
    PARTITION BY e.event_id ORDER BY e.received_at, e.shard, e."offset"
) = 1;
CREATE OR REPLACE TEMP VIEW events AS
SELECT * FROM stored WHERE event_type <> '$recommendation';
CREATE OR REPLACE TEMP VIEW recommendations AS
SELECT recommendation_id,
       json_extract_string(properties, '$.route') AS route,
       json_extract_string(properties, '$.campaign') AS campaign,
       json_extract_string(properties, '$.recipe') AS recipe,
       json_extract_string(properties, '$.model_version') AS model_version,
       json_extract_string(properties, '$.experiment') AS experiment,
       json_extract_string(properties, '$.variant') AS variant,
       json_extract_string(properties, '$.anchor_item') AS anchor_item,
       NULLIF(user_id, '') AS user_id, session_id, impression AS items,
       received_at AS served_at, dt
FROM stored WHERE event_type = '$recommendation'
"""

# Aliases (streamrec.aliases) are rows of the reserved type "$alias" (user_id: the anonymous id,
# item_id: the user), of any day. An anonymous id's event is its user's: the user of its last
# alias before it on its shard (stream order), or, for events before the first alias, of that one:
# what the stores hold after applying the stream in order. Aliases are read from events_raw: the
# events view's de-duplication (a window over every row) would run a second time; an alias of an
# erased anonymous id maps rows that the view hides anyway.
_PLAIN_INTERACTIONS_SQL = """
SELECT user_id, item_id, epoch_us("timestamp") / 1e6 AS "timestamp", event_type, event_value,
       session_id
FROM events
WHERE dt >= CAST(? AS DATE) AND "timestamp" >= to_timestamp(?) AND "timestamp" < to_timestamp(?)
ORDER BY "timestamp", event_id
"""

_HAS_ALIASES_SQL = "SELECT count(*) AS n FROM events_raw WHERE event_type = '$alias'"

_INTERACTIONS_SQL = """
WITH aliases AS (
    SELECT DISTINCT user_id AS anonymous_id, item_id AS known, shard, "offset" FROM events_raw
    WHERE event_type = '$alias'
),
first_alias AS (
    SELECT anonymous_id, arg_min(known, "offset") AS known FROM aliases GROUP BY anonymous_id
),
wanted AS (
    SELECT * FROM events
    WHERE event_type <> '$alias' AND dt >= CAST(? AS DATE)
      AND "timestamp" >= to_timestamp(?) AND "timestamp" < to_timestamp(?)
)
SELECT COALESCE(before.known, first.known, e.user_id) AS user_id, e.item_id,
       epoch_us(e."timestamp") / 1e6 AS "timestamp", e.event_type, e.event_value, e.session_id
FROM wanted e
ASOF LEFT JOIN aliases before
    ON e.user_id = before.anonymous_id AND e.shard = before.shard AND e."offset" > before."offset"
LEFT JOIN first_alias first ON e.user_id = first.anonymous_id
ORDER BY e."timestamp", e.event_id
"""


@dataclasses.dataclass(frozen=True)
class LakeStats:
    files: int
    rows: int
    bytes: int
    days: int


class LakeReader:
    """Reads one lake; each call opens a fresh DuckDB connection so it sees files written since."""

    def __init__(self, location: str) -> None:
        self._files = LakeFiles(location)

    def _connect(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        if not self._files.is_local:
            con.register_filesystem(self._files.fs)
        self._create_raw_view(con)
        self._create_erasures_view(con)
        con.execute(_EVENTS_SQL)
        return con

    def _create_raw_view(self, con: duckdb.DuckDBPyConnection) -> None:
        if not self._files.list_files():
            empty = pa.table(
                {**{f.name: pa.array([], f.type) for f in SCHEMA}, "dt": pa.array([], pa.date32())}
            )
            con.register("_empty_events", empty)
            con.execute("CREATE OR REPLACE TEMP VIEW events_raw AS SELECT * FROM _empty_events")
            return
        pattern = self._files.url(self._files.path(EVENTS_DIR, "dt=*", "shard=*.parquet"))
        con.execute(
            "CREATE OR REPLACE TEMP VIEW events_raw AS SELECT * FROM read_parquet("
            f"{_quote(pattern)}, hive_partitioning = true, union_by_name = true, "
            "hive_types = {'dt': DATE})"
        )

    def _create_erasures_view(self, con: duckdb.DuckDBPyConnection) -> None:
        directory = self._files.path(ERASURES_DIR)
        fs = self._files.fs
        if fs.exists(directory) and fs.ls(directory, detail=False):
            pattern = self._files.url(f"{directory}/*.parquet")
            con.execute(
                "CREATE OR REPLACE TEMP VIEW erasures AS SELECT user_id, requested_at FROM "
                f"read_parquet({_quote(pattern)})"
            )
            return
        con.register("_empty_erasures", ERASURE_SCHEMA.empty_table())
        con.execute("CREATE OR REPLACE TEMP VIEW erasures AS SELECT * FROM _empty_erasures")

    def query(self, sql: str, params: list[Any] | None = None) -> pa.Table:
        """Run `sql` (tables: events, recommendations, events_raw, erasures) and return the
        result as Arrow; ValidationError when ``sql`` holds no statement."""
        con = self._connect()
        try:
            relation = con.sql(sql, params=params or None)
            if relation is None:  # no statement: blank, only comments or semicolons
                raise ValidationError("SQL", "the query is empty")
            return relation.to_arrow_table()
        finally:
            con.close()

    def read_interactions(self, since: float = 0.0, until: float | None = None) -> pa.Table:
        """De-duplicated interactions with event time in [since, until), oldest first.

        Columns as training expects them (see streamrec.synthetic.generate_interactions): user_id,
        item_id, timestamp (float64 epoch seconds), event_type, event_value, session_id. An
        aliased anonymous id's events are read as its user's; the alias rows are left out."""
        until = dt.datetime.now(dt.UTC).timestamp() + 86_400.0 if until is None else until
        params = [earliest_day_for(since), since, until]
        con = self._connect()
        try:
            # the alias joins cost a third more: only a lake holding aliases pays for them
            has_aliases = con.sql(_HAS_ALIASES_SQL).fetchall()[0][0] > 0
            sql = _INTERACTIONS_SQL if has_aliases else _PLAIN_INTERACTIONS_SQL
            return con.sql(sql, params=params).to_arrow_table()
        finally:
            con.close()

    def stats(self) -> LakeStats:
        """Files, rows (from Parquet footers, duplicates included), bytes and days in the lake."""
        files = self._files.list_files()
        rows = 0
        size = 0
        for f in files:
            rows += _row_count(self._files, f.path)
            size += self._files.size(f.path)
        return LakeStats(files=len(files), rows=rows, bytes=size, days=len({f.day for f in files}))


def _row_count(files: LakeFiles, path: str) -> int:
    import pyarrow.parquet as pq

    with files.fs.open(path, "rb") as fh:
        return int(pq.ParquetFile(fh).metadata.num_rows)


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"
