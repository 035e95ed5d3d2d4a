"""Rendering ``benchmarks.cluster`` results into their own section of benchmarks/RESULTS.md, and
reading a process tree's memory. The section sits between two markers and is replaced on each
run, so other benchmarks' sections in the same file are left as they are."""

from __future__ import annotations

import platform
import time
from collections.abc import Sequence
from pathlib import Path

from benchmarks.harness import Section

BEGIN = "<!-- bench-cluster:begin -->"
END = "<!-- bench-cluster:end -->"


def process_rss_mb(pid: int) -> float:
    """Resident memory of a process plus its descendants, in MiB (0 when it is gone)."""
    total_kb = 0
    for p in [pid, *_descendants(pid)]:
        try:
            status = Path(f"/proc/{p}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                total_kb += int(line.split()[1])
    return total_kb / 1024


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def render(sections: Sequence[Section], wall_s: float, quick: bool) -> str:
    lines = [
        BEGIN,
        "## Cluster (`make bench-cluster`)",
        "",
        f"Measured {time.strftime('%Y-%m-%d %H:%M')} on {platform.machine()}, "
        f"{_cpus()} CPUs shared with other work; {'quick run; ' if quick else ''}"
        f"whole run {wall_s:.0f} s. Median over runs, [min-max] in brackets.",
        "",
    ]
    for section in sections:
        lines += [f"### {section.title}", "", "| figure | median | [min - max] | unit |",
                  "|---|---:|---:|---|"]  # fmt: skip
        for f in section.figures:
            s = f.stat
            lines.append(
                f"| {f.name} | {s.median:,.1f} | [{s.low:,.1f} - {s.high:,.1f}] | {f.unit} |"
            )
        lines.append("")
        lines += [f"- {m}" for m in [*section.method, *section.notes]]
        lines.append("")
    lines.append(END)
    return "\n".join(lines) + "\n"


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


def append_section(path: Path, sections: Sequence[Section], wall_s: float, quick: bool) -> None:
    """Write our section into ``path``: replace the previous one, or append it."""
    text = path.read_text() if path.exists() else "# Benchmark results\n\n"
    block = render(sections, wall_s, quick)
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1].lstrip("\n")
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)
