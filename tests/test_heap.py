"""streamrec.heap: full collections skip what a serving process holds; other processes are
left alone."""

from __future__ import annotations

import gc
import subprocess
import sys
import textwrap


def test_settle_does_nothing_outside_a_serving_process() -> None:
    from streamrec.heap import settle

    before = gc.get_freeze_count()
    settle()
    assert gc.get_freeze_count() == before


def test_a_serving_process_keeps_its_objects_out_of_full_collections() -> None:
    script = textwrap.dedent(
        """
        import gc, time
        from streamrec.heap import serving_process, settle
        held = [{"k": [i]} for i in range(300_000)]  # a model's worth of containers
        def full_pass():
            started = time.perf_counter()
            gc.collect(2)
            return time.perf_counter() - started
        before = min(full_pass() for _ in range(3))
        serving_process()
        after = min(full_pass() for _ in range(3))
        more = [[i] for i in range(1000)]
        settle()  # a model switched to later: frozen too
        print(gc.get_freeze_count() >= 600_000, before > 10 * after, before, after)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out[:2] == ["True", "True"], out


def test_thaw_gives_the_frozen_objects_back_before_exit() -> None:
    """A serving process that exits thaws first: DuckDB's objects frozen with the rest made
    nanobind print a leak report on every stop; a settle after thaw freezes nothing."""
    script = textwrap.dedent(
        """
        import gc
        import duckdb
        from streamrec.heap import serving_process, settle, thaw
        duckdb.connect(":memory:").execute("select 1").fetchall()
        serving_process()
        frozen = gc.get_freeze_count()
        thaw()
        settle()
        print(frozen > 0, gc.get_freeze_count() == 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    )
    assert done.stdout.split() == ["True", "True"]
    assert "leaked" not in done.stderr
