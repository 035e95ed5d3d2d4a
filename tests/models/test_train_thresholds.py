"""event_value_thresholds in training: low ratings are left out before the split and the fit,
and the version's metadata (GET /v1/models) shows the thresholds it was trained with."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from streamrec.config import Settings
from streamrec.models.registry import ModelRegistry
from streamrec.models.train import train_on_table


def with_low_ratings(table: pa.Table) -> pa.Table:
    """``table`` (all rated 4) plus 30 users who rated item "disliked" 1 and another item 5."""
    rows = table.to_pylist()
    for row in rows:
        row.update(event_type="rating", event_value=4.0)
    t0 = float(table.column("timestamp").to_numpy().max())
    for u in range(30):
        base = {"user_id": f"hater{u}", "event_type": "rating", "session_id": f"h{u}"}
        rows.append({**base, "item_id": "disliked", "event_value": 1.0, "timestamp": t0 + u})
        rows.append({**base, "item_id": rows[u]["item_id"], "event_value": 5.0,
                     "timestamp": t0 + u + 0.5})  # fmt: skip
    return pa.Table.from_pylist(rows)


def test_low_ratings_are_not_trained_on_and_the_thresholds_are_in_the_metadata(
    settings: Settings, registry: ModelRegistry, events_table: pa.Table
) -> None:
    table = with_low_ratings(events_table)
    plain = train_on_table(settings, table, "item-knn", registry)
    vocab = registry.load(plain["version"]).model.item_vocab
    assert vocab is not None and vocab.index("disliked") >= 0
    assert plain["event_value_thresholds"] == {}

    strict = dataclasses.replace(settings, event_value_thresholds={"rating": 3.0})
    meta = train_on_table(strict, table, "item-knn", registry)
    vocab = registry.load(meta["version"]).model.item_vocab
    assert vocab is not None and vocab.index("disliked") < 0
    assert meta["n_events"] == len(table) - 30
    listed = {m["version"]: m for m in registry.list_versions()}
    assert listed[meta["version"]]["event_value_thresholds"] == {"rating": 3.0}
