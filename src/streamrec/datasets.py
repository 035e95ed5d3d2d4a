"""Dataset loaders: every format becomes one event table with the same columns.

Columns: user_id (str), item_id (str), timestamp (float64 unix seconds), event_type (str: view,
click, add_to_cart, purchase, rating, or the file's own name), event_value (float64), and
session_id (str) where the source has sessions. Rows keep file order (the evaluation protocol
breaks timestamp ties by it). Where a source has no users, each session is a user.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from streamrec.errors import ValidationError

__all__ = ["FORMATS", "load_dataset"]

_OTTO_TYPES = {"clicks": "click", "carts": "add_to_cart", "orders": "purchase"}
_ALIASES = {"userid": "user_id", "itemid": "item_id", "sessionid": "session_id"}


def _table(
    user: pa.Array | np.ndarray | list[str],
    item: pa.Array | np.ndarray | list[str],
    timestamp: np.ndarray,
    event_type: pa.Array | np.ndarray | list[str],
    event_value: np.ndarray | None = None,
    session: pa.Array | np.ndarray | list[str] | None = None,
) -> pa.Table:
    n = len(timestamp)
    cols: dict[str, pa.Array] = {
        "user_id": pa.array(user).cast(pa.string()),
        "item_id": pa.array(item).cast(pa.string()),
        "timestamp": pa.array(np.asarray(timestamp, dtype=np.float64)),
        "event_type": pa.array(event_type).cast(pa.string()),
        "event_value": pa.array(np.ones(n) if event_value is None else event_value, pa.float64()),
    }
    if session is not None:
        cols["session_id"] = pa.array(session).cast(pa.string())
    return pa.table(cols)


def load_movielens(path: Path) -> pa.Table:
    """MovieLens u.data (user, item, rating, unix_ts; tab-separated): the file or its folder."""
    file = path / "u.data" if path.is_dir() else path
    raw = np.loadtxt(file, dtype=np.int64, ndmin=2)
    if raw.shape[1] != 4:
        raise ValidationError("movielens", f"{file}: expected 4 tab-separated columns")
    return _table(
        raw[:, 0].astype(str), raw[:, 1].astype(str), raw[:, 3].astype(np.float64),
        np.full(raw.shape[0], "rating"), raw[:, 2].astype(np.float64),
    )  # fmt: skip


def _normalise(table: pa.Table, source: Path) -> pa.Table:
    """Lower-case names (Amazon Personalize writes USER_ID...), defaults for optional columns."""
    names = [_ALIASES.get(c.lower(), c.lower()) for c in table.column_names]
    table = table.rename_columns(names)
    for required in ("user_id", "item_id", "timestamp"):
        if required not in names:
            raise ValidationError(required, f"{source}: column missing")
    n = len(table)
    event_type = table.column("event_type") if "event_type" in names else pa.array(["view"] * n)
    value = (
        table.column("event_value").cast(pa.float64()).fill_null(1.0)
        if "event_value" in names
        else None
    )
    session = table.column("session_id") if "session_id" in names else None
    return _table(
        table.column("user_id"), table.column("item_id"), _seconds(table.column("timestamp")),
        pc.utf8_lower(pc.cast(event_type, pa.string())),
        None if value is None else value.to_numpy(), session,
    )  # fmt: skip


def _seconds(column: pa.ChunkedArray | pa.Array) -> np.ndarray:
    """Unix seconds from numbers (milliseconds when too large to be seconds) or ISO strings."""
    if pa.types.is_timestamp(column.type):
        return np.asarray(column.cast(pa.int64()).to_numpy(), np.float64) / _unit(column.type)
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        parsed = pc.cast(column, pa.timestamp("us", tz="UTC"))
        return np.asarray(parsed.cast(pa.int64()).to_numpy(), np.float64) / 1e6
    ts = np.asarray(column.cast(pa.float64()).to_numpy(), np.float64)
    return ts / 1000.0 if ts.size and np.nanmax(ts) > 1e11 else ts


def _unit(ts_type: pa.DataType) -> float:
    return {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}[ts_type.unit]


def load_csv(path: Path) -> pa.Table:
    """CSV with a header: user_id,item_id,timestamp[,event_type,event_value,session_id]."""
    opts = pacsv.ConvertOptions(
        column_types={c: pa.string() for c in ("user_id", "item_id", "USER_ID", "ITEM_ID")}
    )
    return _normalise(pacsv.read_csv(path, convert_options=opts), path)


def load_jsonl(path: Path) -> pa.Table:
    """One event object per line with the CSV's field names."""
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    if not rows:
        raise ValidationError("dataset", f"{path}: no events")
    names = sorted({k for r in rows for k in r})
    cols = {k: [_str_id(r.get(k)) if "id" in k.lower() else r.get(k) for r in rows] for k in names}
    return _normalise(pa.table(cols), path)


def _str_id(value: object) -> str | None:
    return None if value is None else str(value)


def load_otto(path: Path) -> pa.Table:
    """OTTO sessions (one JSON session per line, events aid/ts(ms)/type); sessions are users."""
    file = next(iter(sorted(path.glob("*.jsonl")))) if path.is_dir() else path
    session, item, ts, types = [], [], [], []
    for line in file.read_text().splitlines():
        if not line.strip():
            continue
        obj = json.loads(line)
        for ev in obj["events"]:
            session.append(str(obj["session"]))
            item.append(str(ev["aid"]))
            ts.append(ev["ts"] / 1000.0)
            types.append(_OTTO_TYPES.get(ev["type"], ev["type"]))
    return _table(session, item, np.asarray(ts), types, None, session)


def load_yoochoose(path: Path) -> pa.Table:
    """session-rec's YOOCHOOSE clicks (SessionId, ItemId, Time tab-separated); a folder loads
    every .txt in it, train files before test files; sessions are users."""
    files = (
        sorted(path.glob("*.txt"), key=lambda f: ("test" in f.name, f.name))
        if path.is_dir()
        else [path]
    )
    parse = pacsv.ParseOptions(delimiter="\t")
    opts = pacsv.ConvertOptions(column_types={"SessionId": pa.string(), "ItemId": pa.string()})
    t = pa.concat_tables(
        [pacsv.read_csv(f, parse_options=parse, convert_options=opts) for f in files]
    )
    sessions = t.column("SessionId")
    return _table(
        sessions,
        t.column("ItemId"),
        t.column("Time").to_numpy(),
        ["click"] * len(t),
        None,
        sessions,
    )


def load_diginetica(path: Path) -> pa.Table:
    """DIGINETICA item views (semicolon csv, day + ms-in-session time); sessions are users.

    This is EVALUATION.md's sequence definition: the views file, one sequence per session,
    ordered by eventdate then timeframe. The purchases file is not mixed in: the views are a
    sample, and only 138 of its ~3,000 sessions appear among the purchases, so merging them
    makes sequences of purchases without views (format ``diginetica-purchases`` loads those)."""
    table = _diginetica_file(path, "sample_train-item-views.csv")
    return _diginetica_part(table, "view", by_session=True)


def load_diginetica_purchases(path: Path) -> pa.Table:
    """DIGINETICA purchases: a known user id is the user; an anonymous session (user NA) is a
    user of its own."""
    table = _diginetica_file(path, "train-purchases.csv")
    return _diginetica_part(table, "purchase", by_session=False)


def _diginetica_file(path: Path, name: str) -> pa.Table:
    file = path / name if path.is_dir() else path
    if not file.exists():
        raise ValidationError("dataset", f"{file}: no such DIGINETICA file")
    parse = pacsv.ParseOptions(delimiter=";")
    t = pacsv.read_csv(file, parse_options=parse, convert_options=_string_columns())
    return t.rename_columns([_ALIASES.get(c.lower(), c.lower()) for c in t.column_names])


def _string_columns() -> pacsv.ConvertOptions:
    names = ("sessionId", "session_id", "userId", "user_id", "itemId", "item_id", "eventdate")
    return pacsv.ConvertOptions(
        column_types={n: pa.string() for n in names}, strings_can_be_null=True
    )


def _diginetica_part(t: pa.Table, event_type: str, by_session: bool) -> pa.Table:
    day = pc.cast(pc.cast(t.column("eventdate"), pa.timestamp("s")), pa.int64()).to_numpy()
    ts = day.astype(np.float64) + t.column("timeframe").cast(pa.float64()).to_numpy() / 1000.0
    session = pc.binary_join_element_wise("s", t.column("session_id"), "")
    if by_session:
        return _table(session, t.column("item_id"), ts, [event_type] * len(t), None, session)
    user_raw = t.column("user_id")
    known = pc.and_(pc.is_valid(user_raw), pc.not_equal(pc.fill_null(user_raw, "NA"), "NA"))
    user = pc.if_else(
        known, pc.binary_join_element_wise("u", pc.fill_null(user_raw, ""), ""), session
    )
    return _table(user, t.column("item_id"), ts, [event_type] * len(t), None, session)


FORMATS: dict[str, Callable[[Path], pa.Table]] = {
    "csv": load_csv,
    "jsonl": load_jsonl,
    "movielens": load_movielens,
    "diginetica": load_diginetica,
    "diginetica-purchases": load_diginetica_purchases,
    "otto": load_otto,
    "yoochoose": load_yoochoose,
}


def load_dataset(path: str | Path, fmt: str) -> pa.Table:
    """Load ``path`` in format ``fmt`` (one of FORMATS) as an event table."""
    loader = FORMATS.get(fmt)
    if loader is None:
        raise ValidationError("format", f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    source = Path(path)
    if not source.exists():
        raise ValidationError("dataset", f"{source} does not exist")
    return loader(source)
