"""The data the recommender benchmarks serve: generated once, cached under ``benchmarks/out/``.

Importing 1,000,000 events through the stream and its consumers takes minutes on a 2-core
machine, far longer than the measurements themselves, so a prepared data directory (catalogue,
stream, history, user state, lake, an ``item-knn`` version and the activated default recipe,
``hybrid``) is kept and each benchmark works on a fresh copy of it. ``python -m
benchmarks.recdata [--quick]`` prepares it ahead of time; the benchmarks do it on first use.

The preparation goes through the CLI as a user would: ``import-items``, ``import`` (which runs
every consumer group until it has caught up), ``train --recipe item-knn`` and ``train --recipe
hybrid --activate``.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from benchmarks.common import REPO_ROOT
from benchmarks.server import streamrec_command, streamrec_env
from streamrec.synthetic import generate_catalogue, generate_interactions

__all__ = ["FULL", "QUICK", "SERVED_RECIPE", "DataSize", "PreparedData", "prepare"]

OUT_DIR = REPO_ROOT / "benchmarks" / "out"
SERVED_RECIPE = "hybrid"  # the default recipe: what users get
SEED = 11
FORMAT_VERSION = 1  # bump when what is prepared changes, so stale caches are rebuilt


@dataclasses.dataclass(frozen=True)
class DataSize:
    items: int
    users: int
    events: int

    @property
    def label(self) -> str:
        return f"{self.items:,} items, {self.users:,} users, {self.events:,} events"

    @property
    def key(self) -> str:
        return f"rec-{self.items}-{self.users}-{self.events}-s{SEED}-v{FORMAT_VERSION}"


FULL = DataSize(items=100_000, users=50_000, events=1_000_000)
QUICK = DataSize(items=5_000, users=2_500, events=50_000)


@dataclasses.dataclass(frozen=True)
class PreparedData:
    """A prepared data directory and what preparing it took (seconds, command outputs)."""

    root: Path
    size: DataSize
    facts: dict[str, Any]

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def events_path(self) -> Path:
        return self.root / "interactions.parquet"

    def copy_to(self, target: Path) -> Path:
        """A private copy of the data directory (a benchmark's writes never reach the cache)."""
        dest = target / "data"
        shutil.copytree(self.data_dir, dest)
        return dest


def prepare(size: DataSize, out_dir: Path = OUT_DIR) -> PreparedData:
    """The cached data for ``size``, building it first when missing or incomplete."""
    root = out_dir / size.key
    marker = root / "prepared.json"
    if marker.exists():
        return PreparedData(root, size, json.loads(marker.read_text()))
    if root.exists():
        shutil.rmtree(root)  # a half-built cache from an interrupted run
    root.mkdir(parents=True)
    facts = build(root, size)
    marker.write_text(json.dumps(facts, indent=2))
    return PreparedData(root, size, facts)


def build(root: Path, size: DataSize) -> dict[str, Any]:
    started = time.perf_counter()
    events = generate_interactions(size.users, size.items, size.events, seed=SEED)
    pq.write_table(events, root / "interactions.parquet")
    pacsv.write_csv(events, root / "interactions.csv", pacsv.WriteOptions(quoting_style="none"))
    write_catalogue_csv(root / "catalogue.csv", size.items)
    facts: dict[str, Any] = {"generate_s": round(time.perf_counter() - started, 1)}
    data_dir = root / "data"
    steps = {
        "import_items": ("import-items", str(root / "catalogue.csv"), "--format", "csv"),
        "import": ("import", str(root / "interactions.csv"), "--format", "csv", "--no-progress"),
        "train_item_knn": ("train", "--recipe", "item-knn"),
        "train": ("train", "--recipe", SERVED_RECIPE, "--activate"),
    }
    for name, args in steps.items():
        facts[f"{name}_s"], facts[f"{name}_output"] = run_cli(data_dir, args)
    (root / "interactions.csv").unlink()  # the parquet copy is what training benchmarks read
    facts["data_dir_mb"] = round(dir_bytes(data_dir) / 1e6, 1)
    facts["size"] = dataclasses.asdict(size)
    facts["prepared_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    return facts


def write_catalogue_csv(path: Path, n_items: int) -> None:
    """The generated catalogue as the CSV ``import-items`` reads (categories ``|``-separated)."""
    table = generate_catalogue(n_items, seed=SEED)
    csv_table = pa.table(
        {
            "item_id": table.column("item_id"),
            "title": table.column("title"),
            "categories": table.column("category"),
            "price": table.column("price"),
            "created_at": table.column("created_at"),
        }
    )
    pacsv.write_csv(csv_table, path)


def run_cli(data_dir: Path, args: tuple[str, ...]) -> tuple[float, str]:
    """Run one ``streamrec`` command against ``data_dir``: (wall seconds, its output)."""
    started = time.perf_counter()
    done = subprocess.run(
        streamrec_command(*args),
        env=streamrec_env(data_dir),
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        check=False,
    )
    wall = round(time.perf_counter() - started, 1)
    output = " ".join((done.stdout + done.stderr).split())
    if done.returncode != 0:
        raise RuntimeError(f"streamrec {args[0]} failed ({done.returncode}): {output[-2000:]}")
    return wall, output[-600:]


def dir_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.recdata", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="the small data set of --quick runs")
    args = parser.parse_args(argv)
    prepared = prepare(QUICK if args.quick else FULL)
    json.dump(prepared.facts, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
