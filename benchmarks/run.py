"""``python -m benchmarks.run [--quick] [--only NAME ...]``: run benchmarks, write RESULTS.md.

A full run stores each benchmark's section in ``benchmarks/results/NAME.json`` and rebuilds
``benchmarks/RESULTS.md`` from every stored section. ``--quick`` (fewer, shorter repetitions,
a smaller import) is for trying the harness: it prints its tables and leaves the stored results
alone unless ``--output`` names a file for them.

To add benchmarks, write a module in this package with a ``BENCHMARKS`` sequence of
:class:`benchmarks.harness.Benchmark` and add its name to :data:`MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import load_average
from benchmarks.harness import Benchmark, Context, Section
from benchmarks.report import load_section, machine_summary, render, save_section, write_results

MODULES = ("ingest", "pipeline", "bulk_import", "recommend", "record_cost", "restart")
HERE = Path(__file__).resolve().parent
RESULTS_DIR = HERE / "results"
RESULTS_MD = HERE / "RESULTS.md"


def all_benchmarks() -> list[Benchmark]:
    found: list[Benchmark] = []
    for name in MODULES:
        module = importlib.import_module(f"benchmarks.{name}")
        found.extend(module.BENCHMARKS)
    return found


def select(benchmarks: Sequence[Benchmark], only: Sequence[str]) -> list[Benchmark]:
    """Benchmarks named exactly, or under a dotted prefix (``ingest`` selects ``ingest.*``)."""
    if not only:
        return list(benchmarks)
    chosen = [b for b in benchmarks if any(b.name == o or b.name.startswith(o + ".") for o in only)]
    if not chosen:
        names = ", ".join(b.name for b in benchmarks)
        raise SystemExit(f"no benchmark matches {', '.join(only)}; known: {names}")
    return chosen


def run_one(benchmark: Benchmark, ctx: Context) -> Section:
    print(f"== {benchmark.name}: {benchmark.title}", file=sys.stderr, flush=True)
    before = load_average()
    start = time.perf_counter()
    section = benchmark.run(ctx)
    section.wall_s = time.perf_counter() - start
    section.load_average = (before, load_average())
    section.quick = ctx.quick
    section.measured_at = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"   done in {section.wall_s:.0f} s", file=sys.stderr, flush=True)
    return section


def stored_sections(order: Sequence[Benchmark]) -> list[Section]:
    """Every stored section, in the order the benchmarks are declared."""
    sections = []
    for benchmark in order:
        path = RESULTS_DIR / f"{benchmark.name}.json"
        if path.exists():
            sections.append(load_section(path))
    return sections


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer, shorter repetitions")
    parser.add_argument(
        "--only",
        nargs="+",
        default=[],
        metavar="NAME",
        help="benchmark names or dotted prefixes, e.g. ingest.single or ingest",
    )
    parser.add_argument("--reps", type=int, default=None, help="repetitions per figure")
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        help="write the tables of this run to this file (quick mode default: none)",
    )
    parser.add_argument("--list", action="store_true", help="list the benchmarks and exit")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    benchmarks = all_benchmarks()
    if args.list:
        for b in benchmarks:
            print(f"{b.name:24} {b.title}")
        return
    chosen = select(benchmarks, args.only)
    sections = []
    with Context.create(args.quick, args.reps) as ctx:
        for benchmark in chosen:
            sections.append(run_one(benchmark, ctx))
            if not args.quick and args.output is None:
                save_section(sections[-1], RESULTS_DIR)
    if args.output is not None:
        args.output.write_text(render("# Benchmark run", sections, machine_summary()))
    elif not args.quick:
        write_results(RESULTS_MD, stored_sections(benchmarks))
    print(render("", sections, machine_summary(), marker=False))


if __name__ == "__main__":
    main()
