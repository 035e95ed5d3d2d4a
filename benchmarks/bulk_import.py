"""Bulk import benchmark (issue 2): ``streamrec import FILE --format csv`` of a generated CSV.

The figure is what a user waits for: rows divided by the wall time of the whole command, from
process start until it returns, which is after every consumer group has processed the rows (the
command runs the consumers itself when no server is running). The command's own rows/s for the
append phase alone is reported next to it.
"""

from __future__ import annotations

import re
import subprocess
import time
from pathlib import Path

import pyarrow.csv as pacsv

from benchmarks.common import REPO_ROOT
from benchmarks.harness import Benchmark, Context, Goal, Section
from benchmarks.server import streamrec_command, streamrec_env
from streamrec.synthetic import generate_interactions

__all__ = ["BENCHMARKS"]

FULL_ROWS = 1_000_000
QUICK_ROWS = 100_000
TIME_BUDGET_S = 150.0  # after two imports, a third only if they took less than this
_APPEND_RATE = re.compile(r"\(([\d,]+) rows/s\)")


def write_csv(path: Path, rows: int, seed: int = 7) -> Path:
    """A generated interactions CSV (user_id,item_id,timestamp,event_type,event_value,session_id)."""
    table = generate_interactions(n_users=50_000, n_items=100_000, n_events=rows, seed=seed)
    pacsv.write_csv(table, path, pacsv.WriteOptions(quoting_style="none"))
    return path


def import_available() -> bool:
    done = subprocess.run(
        [*streamrec_command("import", "--help")], capture_output=True, cwd=REPO_ROOT, check=False
    )
    return done.returncode == 0


def run_import(csv_path: Path, data_dir: Path) -> tuple[float, float | None, str]:
    """(wall seconds of the whole command, its own append-phase rows/s if printed, output)."""
    cmd = streamrec_command("import", str(csv_path), "--format", "csv", "--no-progress")
    start = time.perf_counter()
    done = subprocess.run(
        cmd, env=streamrec_env(data_dir), capture_output=True, text=True, cwd=REPO_ROOT, check=False
    )
    wall = time.perf_counter() - start
    if done.returncode != 0:
        raise RuntimeError(f"streamrec import failed ({done.returncode}): {done.stderr[-2000:]}")
    match = _APPEND_RATE.search(done.stdout)
    rate = float(match.group(1).replace(",", "")) if match else None
    return wall, rate, done.stdout


def run_csv_import(ctx: Context) -> Section:
    section = Section("ingest.import", "Bulk import: streamrec import FILE --format csv")
    rows = QUICK_ROWS if ctx.quick else FULL_ROWS
    if not import_available():
        section.pending = "`streamrec import` is not available in this checkout yet"
        return section
    started = time.perf_counter()
    csv_path = write_csv(ctx.scratch("csv") / "interactions.csv", rows)
    generated_s = time.perf_counter() - started
    totals: list[float] = []
    appends: list[float] = []
    started = time.perf_counter()
    for rep in range(min(ctx.reps, 2 if ctx.quick else 3)):
        if rep >= 2 and time.perf_counter() - started > TIME_BUDGET_S:
            break  # a third 1M-row import would push `make bench` past its 10 minutes
        wall, append_rate, output = run_import(csv_path, ctx.scratch("import") / "data")
        totals.append(rows / wall)
        if append_rate is not None:
            appends.append(append_rate)
    section.add(
        f"streamrec import, {rows:,}-row CSV, until consumers caught up",
        "events/s",
        totals,
        goal=Goal(">=", 100_000),
    )
    if appends:
        section.add(
            "the same imports, append phase only (the command's own rows/s)", "rows/s", appends
        )
    section.method += [
        f"{rows:,} rows from streamrec.synthetic.generate_interactions (50,000 users, 100,000"
        f" items, seed 7; {csv_path.stat().st_size / 1e6:.0f} MB, generated in"
        f" {generated_s:.1f} s, not timed).",
        "Each repetition imports into an empty data dir with no server running, so the command"
        " runs every enabled consumer group (history, lake, realtime) itself before returning;"
        " events/s = rows / wall time of the command, process start included.",
    ]
    section.notes.append(f"last run's output: {' '.join(output.split())[:300]}")
    return section


BENCHMARKS = (Benchmark("ingest.import", "CSV import", run_csv_import),)
