"""Per-event-type counts over a window: what a window includes, per-type separation, bounds."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.serving.windowed_counts import TIERS, WindowedCounts

NOW = 1_800_000_000.0
HOUR, DAY = 3_600.0, 86_400.0


def counts(events: list[tuple[str, int, float]], now: float = NOW) -> WindowedCounts:
    windowed = WindowedCounts(["view", "purchase"])
    types = [e[0] for e in events]
    items = np.array([e[1] for e in events], np.int64)
    times = np.array([e[2] for e in events], np.float64)
    windowed.update(types, items, times, now=now)
    return windowed


def test_a_window_excludes_older_events_and_keeps_newer() -> None:
    windowed = counts([("purchase", 0, NOW - 2 * HOUR), ("purchase", 1, NOW - 10 * 60)])
    hour = windowed.scores("purchase", HOUR, 3, now=NOW)
    assert hour.tolist() == [0.0, 1.0, 0.0]
    day = windowed.scores("purchase", DAY, 3, now=NOW)
    assert day.tolist() == [1.0, 1.0, 0.0]


def test_long_windows_count_in_days() -> None:
    events = [("purchase", 0, NOW - 10 * DAY), ("purchase", 1, NOW - 3 * DAY)]
    events += [("purchase", 1, NOW - 40 * DAY), ("purchase", 2, NOW - 100 * DAY)]
    windowed = counts(events)
    assert windowed.scores("purchase", 7 * DAY, 3, now=NOW).tolist() == [0.0, 1.0, 0.0]
    assert windowed.scores("purchase", 30 * DAY, 3, now=NOW).tolist() == [1.0, 1.0, 0.0]
    assert windowed.scores("purchase", 90 * DAY, 3, now=NOW).tolist() == [1.0, 2.0, 0.0]


def test_event_types_are_counted_apart_and_together_by_weight() -> None:
    events = [("view", 0, NOW - 60), ("view", 0, NOW - 50), ("purchase", 1, NOW - 40)]
    events.append(("click", 2, NOW - 30))  # not a counted type
    windowed = counts(events)
    assert windowed.scores("view", HOUR, 3, now=NOW).tolist() == [2.0, 0.0, 0.0]
    assert windowed.scores("purchase", HOUR, 3, now=NOW).tolist() == [0.0, 1.0, 0.0]
    both = windowed.scores(None, HOUR, 3, {"view": 1.0, "purchase": 8.0}, now=NOW)
    assert both.tolist() == [2.0, 8.0, 0.0]


def test_buckets_past_the_horizon_are_dropped() -> None:
    windowed = counts([("view", 0, NOW - 60)])
    later = NOW + 200 * DAY
    windowed.update(["view"], np.array([1]), np.array([later]), now=later)
    snapshot = windowed.arrays()
    for tier in range(len(TIERS)):
        assert snapshot[f"t{tier}_len"].sum() == 1  # only the new event's bucket is left


@settings(max_examples=40, deadline=None)
@given(st.lists(st.integers(0, 200), min_size=1, max_size=400), st.integers(1, 20))
def test_a_bucket_keeps_at_most_its_cap_and_the_most_frequent(items: list[int], cap: int) -> None:
    windowed = WindowedCounts(["view"], max_items_per_bucket=cap)
    windowed.update(["view"] * len(items), np.array(items), np.full(len(items), NOW), now=NOW)
    scores = windowed.scores("view", HOUR, 201, now=NOW)
    kept = np.flatnonzero(scores)
    assert kept.size == min(cap, len(set(items)))
    true = np.bincount(items, minlength=201)
    assert scores[kept].tolist() == true[kept].tolist()
    dropped = np.setdiff1d(np.unique(items), kept)
    assert not dropped.size or true[dropped].max() <= true[kept].min()


def test_a_snapshot_restores_the_same_counts_into_another_space() -> None:
    windowed = counts([("view", 0, NOW - 60), ("purchase", 2, NOW - 3 * DAY)])
    again = WindowedCounts(["purchase", "view"])
    index = np.array([5, 6, 7])  # item k of the snapshot is item index[k] here
    again.restore(windowed.arrays(), list(windowed.event_types), index)
    assert again.scores("view", HOUR, 8, now=NOW)[5] == 1.0
    assert again.scores("purchase", 7 * DAY, 8, now=NOW)[7] == 1.0


def test_a_snapshot_of_no_events_restores_empty() -> None:
    again = WindowedCounts(["view"])
    again.restore(WindowedCounts(["view"]).arrays(), ["view"], np.array([0, 1]))
    assert not again.scores("view", HOUR, 2, now=NOW).any()
