"""Served quality of every recipe on every dataset in ../shared/datasets, both protocols of
EVALUATION.md, with 95% bootstrap intervals (the same code as `streamrec evaluate`).

Usage: .venv/bin/python -m benchmarks.quality [--datasets DIR] [--out benchmarks/QUALITY.md]
           [--only NAME[:PROTOCOL] ...] [--recipes LIST] [--seed N] [--skip-scale]
Each (dataset, protocol) imports the training part into a fresh data dir through the stream and
the consumers, trains every recipe from the lake, and asks the RecommendationService (what
`GET /v1/recommendations/{user}` calls) for every test user. Writes Markdown (and prints it);
the datasets are read in place, never copied.
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa

from streamrec.datasets import load_dataset
from streamrec.recommenders.registry import DEFAULT_RECIPE, RECIPES
from streamrec.training.served import ServedResult, evaluate_served, parse_recipe_runs, target_codes
from streamrec.training.served_data import PROTOCOLS, split_events

DATASETS = (
    ("movielens-100k", "movielens"),
    ("diginetica", "diginetica"),
    ("yoochoose-clicks-sample", "yoochoose"),
    ("otto-sample", "otto"),
)
BASELINES = ("recent-distinct", "recent-cooc")
TUNED = ("ease:tuned", "als:tuned")
DEFAULT_DATASETS = Path(__file__).resolve().parents[2] / "shared" / "datasets"
K = 10
REFERENCE = """\
## Reference figures (../shared/EVALUATION.md, numpy/scipy, not measured here), HR@10 / NDCG@10

leave-last-out, movielens-100k: popularity 0.0859 / 0.0441; item-kNN 0.1092 / 0.0563;
EASE (lambda 500) 0.1453 / 0.0737.

| next-event | popularity | recent-distinct | recent 5 + co-occurrence | co-occurrence only |
|---|---|---|---|---|
| yoochoose-clicks-sample (12,057) | 0.0722 / 0.0350 | 0.4140 / 0.3486 | 0.6055 / 0.4246 | 0.4056 / 0.2270 |
| diginetica views (1,527) | 0.0144 / 0.0073 | 0.2914 / 0.2106 | 0.3392 / 0.2292 | 0.3032 / 0.1690 |
| otto-sample (12) | 0.0833 / 0.0833 | 0.3333 / 0.2609 | 0.3333 / 0.2609 | 0.0833 / 0.0526 |
"""
HOW = """\
How to read: **served** is what the API returns (`RecommendationService.recommend(user, n=10)`,
after the training part went through `import`, the consumers and `train --activate`); it is the
product's quality. **model only** is the same trained model ranking the same users' whole
training histories in one batch, without the user-state window and without the stream's
co-occurrence term (the one thing the service adds, with the model's learned `stream_weight`):
a diagnostic, not a quality figure. Intervals: 95% percentile bootstrap
over test users (1,000 resamples, seeded). A target unknown to training is a miss.
`recent-distinct` and `recent-cooc` ("recent 5 + co-occurrence of the last 5") are the
baselines of EVALUATION.md; `ease:tuned` and `als:tuned` choose their parameters on a validation
split of the training data (each user's last new item), as the default recipe does.
"""


def recipe_labels(recipes: str) -> list[str]:
    """``all``: the default, every other recipe, the baselines and the tuned single recipes."""
    if recipes != "all":
        return [r.strip() for r in recipes.split(",") if r.strip()]
    singles = [r for r in RECIPES if r != DEFAULT_RECIPE and r not in BASELINES]
    return [DEFAULT_RECIPE, *singles, *BASELINES, *TUNED]


def section_header(name: str, fmt: str, protocol: str, table: pa.Table) -> str:
    split = split_events(table, protocol)
    _, targets = target_codes(split)
    unknown = int((targets < 0).sum())
    n = len(split.users)
    return (
        f"### {name}, {protocol} (`--format {fmt}`)\n\n{len(table):,} events; "
        f"{len(split.train):,} training events; {n:,} test users, {unknown:,} of them with a "
        f"target unknown to training (best possible HR@{K}: {1 - unknown / max(1, n):.4f}).\n"
    )


def markdown_table(results: Sequence[ServedResult]) -> str:
    rows = [
        f"| recipe | served HR@{K} [95% CI] | served NDCG@{K} [95% CI] | model-only NDCG@{K} "
        "| train s |",
        "|---|---|---|---|---|",
    ]
    for r in results:
        name = f"{r.recipe} (default)" if r.recipe == DEFAULT_RECIPE else r.recipe
        if r.error:
            rows.append(f"| {name} | - | - | - | refused: {r.error} |")
            continue
        model = r.model_only.get(f"ndcg@{K}")
        rows.append(
            f"| {name} | {r.served[f'hr@{K}'].format()} | {r.served[f'ndcg@{K}'].format()} "
            f"| {model.format() if model else '-'} | {r.train_time_s:.1f} |"
        )
    return "\n".join(rows) + "\n"


def comparison(results: Sequence[ServedResult], metric: str = f"ndcg@{K}") -> str:
    """The default against the best other recipe on ``metric``, and whether the intervals
    separate them (the honest comparison of the issue)."""
    ok = [r for r in results if r.error is None and metric in r.served]
    default = next((r for r in ok if r.recipe == DEFAULT_RECIPE), None)
    others = [r for r in ok if r.recipe != DEFAULT_RECIPE]
    if default is None or not others:
        return ""
    best = max(others, key=lambda r: r.served[metric].value)
    d, b = default.served[metric], best.served[metric]
    verdict = "wins" if d.value > b.value else "loses" if d.value < b.value else "ties"
    overlap = d.low <= b.high and b.low <= d.high
    return (
        f"Default vs the best other recipe on served {metric.upper()}: {DEFAULT_RECIPE} "
        f"{d.value:.4f} vs {best.recipe} {b.value:.4f}: the default **{verdict}** "
        f"({'intervals overlap' if overlap else 'intervals do not overlap'}).\n"
    )


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def run_section(
    root: Path, name: str, fmt: str, protocol: str, labels: list[str], args: argparse.Namespace
) -> list[str]:
    table = load_dataset(root / name, fmt)
    started, load = time.perf_counter(), load_line()
    results = evaluate_served(
        table, protocol, parse_recipe_runs(labels), args.seed,
        progress=lambda line: print(f"{name} {protocol}: {line}", flush=True),
        restart_after_import=args.restart_after_import,
    )  # fmt: skip
    took = time.perf_counter() - started
    return [
        section_header(name, fmt, protocol, table),
        markdown_table(results),
        comparison(results),
        comparison(results, f"hr@{K}"),
        f"Machine load at start: {load}; at end: {load_line()}; {took:.0f} s in all.\n",
    ]


def selected(only: Sequence[str]) -> list[tuple[str, str, str]]:
    """(dataset, format, protocol) to run: everything, or the ``NAME[:PROTOCOL]`` given."""
    wanted = [o.partition(":") for o in only]
    out = []
    for name, fmt in DATASETS:
        for protocol in PROTOCOLS:
            if not wanted or any(n == name and p in ("", protocol) for n, _, p in wanted):
                out.append((name, fmt, protocol))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--datasets", type=Path, default=DEFAULT_DATASETS)
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("QUALITY.md"))
    parser.add_argument("--only", nargs="*", default=[], help="NAME or NAME:PROTOCOL")
    parser.add_argument("--recipes", default="all", help="all, or a comma-separated list")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--restart-after-import",
        action="store_true",
        help="serve from a process started after the import (stream co-occurrence empty)",
    )
    parser.add_argument("--skip-scale", action="store_true", help="skip the 100k-item timing")
    args = parser.parse_args()
    labels = recipe_labels(args.recipes)
    parts = [
        "# Served quality: both protocols of EVALUATION.md, full ranking, k = 10\n",
        "Measured with `.venv/bin/python -m benchmarks.quality` (the code of `streamrec "
        f"evaluate`) on {platform.machine()} / Python {platform.python_version()}, on a 2-core "
        "machine shared with other jobs, so training times are indicative only.\n",
        HOW,
        "Server: "
        + (
            "started after the import (stream co-occurrence empty).\n"
            if args.restart_after_import
            else "running while the import goes in (its stream state holds every event).\n"
        ),
    ]
    for name, fmt, protocol in selected(args.only):
        if (args.datasets / name).exists():
            parts += run_section(args.datasets, name, fmt, protocol, labels, args)
            args.out.write_text("\n".join(parts))  # a long run shows its progress
    if not args.skip_scale:
        from benchmarks.hybrid_scale import measure

        parts += [
            "## The default recipe at catalogue scale\n",
            f"{measure(100_000, 1_000_000, 300)}.\n",
        ]
    parts.append(REFERENCE)
    text = "\n".join(parts)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
