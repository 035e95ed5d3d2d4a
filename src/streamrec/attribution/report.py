"""Attribution figures per interval and campaign, summed from the per-minute figures the
``attribution`` group stores (:mod:`streamrec.attribution.sink`).

Intervals are whole minutes aligned to the epoch (``15m`` starts at :00, :15, :30, :45 UTC);
``from`` is rounded down to its minute and ``to`` is exclusive. Only intervals with at least one
figure are listed. CTR is clicks per item shown (the usual impression CTR), null when nothing
was shown.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from streamrec.attribution.sink import (
    CONVERSION_PREFIX,
    ITEMS_SHOWN,
    RECOMMENDATIONS,
    REVENUE,
)
from streamrec.attribution.store import AttributionStore
from streamrec.errors import ValidationError

__all__ = ["MAX_INTERVALS", "IntervalFigures", "attribution_report", "parse_interval"]

MAX_INTERVALS = 10_000
INTERVAL_PATTERN = r"^[1-9][0-9]{0,5}[mhd]$"
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400}


def parse_interval(text: str) -> int:
    """``15m``, ``1h``, ``7d`` -> seconds (whole minutes only)."""
    if not re.match(INTERVAL_PATTERN, text):
        raise ValidationError("interval", f"{text!r}: a number of minutes, hours or days: 15m")
    return int(text[:-1]) * _UNIT_S[text[-1]]


@dataclasses.dataclass
class IntervalFigures:
    start: float
    campaign: str
    recommendations: int = 0
    items_shown: int = 0
    clicks: int = 0
    conversions: dict[str, int] = dataclasses.field(default_factory=dict)
    revenue: float = 0.0
    ctr: float | None = None

    def add(self, metric: str, value: float) -> None:
        if metric == RECOMMENDATIONS:
            self.recommendations += int(value)
        elif metric == ITEMS_SHOWN:
            self.items_shown += int(value)
        elif metric == REVENUE:
            self.revenue += value
        elif metric.startswith(CONVERSION_PREFIX):
            kind = metric[len(CONVERSION_PREFIX) :]
            self.conversions[kind] = self.conversions.get(kind, 0) + int(value)

    def finish(self, conversion_types: Sequence[str]) -> IntervalFigures:
        self.conversions = {t: self.conversions.get(t, 0) for t in conversion_types}
        self.clicks = self.conversions.get("click", 0)
        self.ctr = self.clicks / self.items_shown if self.items_shown else None
        return self


def attribution_report(
    store: AttributionStore,
    start: float,
    end: float,
    interval_s: int,
    campaign: str | None,
    conversion_types: Sequence[str],
) -> list[IntervalFigures]:
    """Figures per (interval, campaign) with data in [start, end), oldest first."""
    if end <= start:
        raise ValidationError("to", "must be after from")
    if (end - start) / interval_s > MAX_INTERVALS:
        raise ValidationError(
            "interval", f"more than {MAX_INTERVALS} intervals: choose a longer one"
        )
    first, stop = int(start // 60), int(-(-end // 60))
    rows: dict[tuple[int, str], IntervalFigures] = {}
    for minute, name, metric, value in store.figures(first, stop, campaign):
        bucket = (minute * 60) // interval_s * interval_s
        figures = rows.setdefault((bucket, name), IntervalFigures(float(bucket), name))
        figures.add(metric, value)
    return [rows[key].finish(conversion_types) for key in sorted(rows)]
