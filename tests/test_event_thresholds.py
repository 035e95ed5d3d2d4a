"""eventValueThreshold: which events count, on single events and on the lake's table."""

from __future__ import annotations

import pyarrow as pa

from streamrec.event_thresholds import EventThresholds
from streamrec.stores.base import UserEvent

THRESHOLDS = EventThresholds({"rating": 3.0, "watch": 30.0})


def test_an_event_below_its_types_threshold_does_not_count() -> None:
    assert not THRESHOLDS.counts("rating", 2.5)
    assert THRESHOLDS.counts("rating", 3.0) and THRESHOLDS.counts("rating", 5.0)
    assert not THRESHOLDS.counts("watch", 12.0)
    assert THRESHOLDS.counts("view", 0.0)  # no threshold for views
    assert THRESHOLDS.counts("rating", None)  # no value: nothing to compare
    assert not EventThresholds() and THRESHOLDS


def test_kept_and_mask_keep_the_order() -> None:
    events = [UserEvent("a", "rating", 1.0, 1.0), UserEvent("b", "view", 2.0),
              UserEvent("c", "rating", 3.0, 4.0)]  # fmt: skip
    assert [e.item_id for e in THRESHOLDS.kept(events)] == ["b", "c"]
    assert THRESHOLDS.mask(events).tolist() == [False, True, True]


def test_the_lake_table_loses_only_rows_below_their_types_threshold() -> None:
    table = pa.table(
        {
            "user_id": ["u"] * 5,
            "item_id": ["a", "b", "c", "d", "e"],
            "event_type": ["rating", "rating", "watch", "view", "rating"],
            "event_value": pa.array([1.0, 4.0, 10.0, 0.0, None], pa.float64()),
        }
    )
    kept = THRESHOLDS.filter_table(table)
    assert kept.column("item_id").to_pylist() == ["b", "d", "e"]
    assert EventThresholds().filter_table(table) is table
