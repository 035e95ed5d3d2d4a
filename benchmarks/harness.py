"""The shapes every benchmark module shares: samples, figures, goals, sections, the run context.

A benchmark is a function ``(Context) -> Section``. It repeats each measurement ``ctx.reps``
times and reports every figure as the median of those repetitions with its spread, because the
machines are shared and noisy: one number from one run says little. Where an issue asks for a
ratio, the section also carries the limit (the raw append rate, an empty endpoint), measured in
the same run, and each figure names the limit it is to be read against.
"""

from __future__ import annotations

import dataclasses
import statistics
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "Benchmark",
    "Context",
    "Figure",
    "Goal",
    "Section",
    "Stat",
    "percentile",
]


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0-100) by linear interpolation, as numpy's default does."""
    if not values:
        raise ValueError("percentile of no values")
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100.0
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


@dataclasses.dataclass(frozen=True)
class Stat:
    """One figure's value in each repetition; read as median with min-max and IQR."""

    samples: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def low(self) -> float:
        return min(self.samples)

    @property
    def high(self) -> float:
        return max(self.samples)

    @property
    def iqr(self) -> tuple[float, float]:
        return percentile(self.samples, 25), percentile(self.samples, 75)


@dataclasses.dataclass(frozen=True)
class Goal:
    """What an issue asks of a figure: ``value >= target`` or ``value < target``."""

    op: Literal[">=", "<"]
    target: float

    def met(self, value: float) -> bool:
        return value >= self.target if self.op == ">=" else value < self.target


@dataclasses.dataclass(frozen=True)
class Figure:
    """A measured figure. ``limit`` names the figure of the same section it is read against."""

    name: str
    unit: str
    stat: Stat
    goal: Goal | None = None
    limit: str | None = None
    is_limit: bool = False

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.goal.met(self.stat.median)


@dataclasses.dataclass
class Section:
    """What one benchmark reports: figures, how they were measured, and extra facts."""

    name: str
    title: str
    figures: list[Figure] = dataclasses.field(default_factory=list)
    method: list[str] = dataclasses.field(default_factory=list)
    notes: list[str] = dataclasses.field(default_factory=list)
    pending: str | None = None
    quick: bool = False
    measured_at: str = ""
    wall_s: float = 0.0
    load_average: tuple[float, float] = (0.0, 0.0)  # 1-minute load before and after

    def add(self, name: str, unit: str, samples: Sequence[float], **kw: Any) -> Figure:
        figure = Figure(name, unit, Stat(tuple(float(s) for s in samples)), **kw)
        self.figures.append(figure)
        return figure

    def figure(self, name: str) -> Figure:
        for f in self.figures:
            if f.name == name:
                return f
        raise KeyError(name)


@dataclasses.dataclass(frozen=True)
class Context:
    """How hard to measure: repetitions and seconds per repetition, and a scratch directory."""

    quick: bool
    reps: int
    seconds: float
    workdir: Path

    @classmethod
    @contextmanager
    def create(cls, quick: bool, reps: int | None = None) -> Iterator[Context]:
        with tempfile.TemporaryDirectory(prefix="streamrec-bench-") as tmp:
            yield cls(
                quick=quick,
                reps=reps or (3 if quick else 5),
                seconds=2.0 if quick else 5.0,
                workdir=Path(tmp),
            )

    def scratch(self, name: str) -> Path:
        """A fresh directory for one server or one import (each starts from an empty data dir)."""
        path = self.workdir / name
        suffix = 0
        while path.exists():
            suffix += 1
            path = self.workdir / f"{name}-{suffix}"
        path.mkdir(parents=True)
        return path


@dataclasses.dataclass(frozen=True)
class Benchmark:
    """A named benchmark; modules list theirs in a module-level ``BENCHMARKS`` sequence."""

    name: str
    title: str
    run: Callable[[Context], Section]
