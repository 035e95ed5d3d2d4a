"""What the stores' TTL purges share.

A purge deletes *every* expired row, in short transactions of at most ``max_rows`` rows each (so
writers are never held up long), instead of a fixed number of rows per maintenance round: at a few
hundred events a second a cap of 10,000 rows a minute let expired rows pile up for good.
"""

from __future__ import annotations

from collections.abc import Callable

# Per-item activity buckets older than this are dropped: popularity is warmed from the last
# 30 days (serving.stream_state.POPULARITY_WARM_WINDOW_S) and trending from the last hours.
ITEM_BUCKET_RETENTION_S = 30 * 86_400.0


def purge_in_chunks(chunk: Callable[[], tuple[int, ...]], max_rows: int) -> int:
    """Run `chunk` (one short transaction deleting at most `max_rows` rows of each of its tables)
    until every table had fewer than that left; return the rows of the first table deleted."""
    total = 0
    while True:
        deleted = chunk()
        total += deleted[0]
        if all(n < max_rows for n in deleted):
            return total
