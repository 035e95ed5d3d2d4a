from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from streamrec.lake.layout import (
    FileName,
    day_of,
    earliest_day_for,
    file_name,
    parse_file_name,
)


@given(
    st.integers(0, 9999),
    st.integers(0, 10**19),
    st.integers(0, 10**19),
)
def test_file_name_round_trips_and_sorts_by_offset(shard: int, a: int, b: int) -> None:
    first, last = min(a, b), max(a, b)
    name = file_name(shard, first, last)
    assert parse_file_name(name) == FileName(shard, first, last)
    later = file_name(shard, last + 1, last + 2)
    assert name < later


def test_other_names_are_not_lake_files() -> None:
    assert parse_file_name(".tmp-abc-" + file_name(1, 0, 9)) is None
    assert parse_file_name("shard=1-0-9.parquet") is None
    assert parse_file_name("notes.txt") is None


def test_day_is_the_utc_date() -> None:
    assert day_of(1_704_067_199.0) == "2023-12-31"
    assert day_of(1_704_067_200.0) == "2024-01-01"


def test_earliest_day_allows_for_clock_skew() -> None:
    # An event stamped 00:02 may have been received at 23:58 the day before.
    assert earliest_day_for(1_704_067_200.0 + 120) == "2023-12-31"
    assert earliest_day_for(1_704_067_200.0 + 600) == "2024-01-01"
