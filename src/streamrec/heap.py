"""Keeping the garbage collector's full passes off a serving process's request path.

A serving process holds a model, its vocabularies and the real-time state: hundreds of
thousands of long-lived objects. CPython's full (generation 2) collection walks every one of
them each time it runs, and it runs on whichever thread allocates at that moment, the event loop
included: measured on the 100,000-item benchmark model, 48-192 ms per pass, a stall every
request in flight waits out (p99 of 400 ms at 100 requests/s over 20 s). ``settle`` collects
once and moves what is alive to the permanent generation (``gc.freeze``), which later passes
skip (0.0 ms after it). Called when a serving process has loaded its state and after each model
it switches to; objects freed later by reference counting go as usual, only reference cycles
among frozen objects would stay (models and state hold none). Only a process that serves HTTP
for its lifetime turns it on (``serve_http``): in a process that builds and drops many runtimes
(the test suite, a notebook) frozen cycles would accumulate, so there ``settle`` does nothing.
"""

from __future__ import annotations

import gc

__all__ = ["serving_process", "settle", "thaw"]

_serving = False


def serving_process() -> None:
    """This process serves until it exits: from now on ``settle`` freezes, and it does now."""
    global _serving
    _serving = True
    settle()


def settle() -> None:
    """Collect what is garbage now, then keep every live object out of later collections (in a
    serving process only, see the module docstring)."""
    if _serving:
        gc.collect()
        gc.freeze()


def thaw() -> None:
    """Give the frozen objects back to the collector, before the process exits: at exit the
    interpreter does not collect the permanent generation, and the extension modules whose
    objects were frozen (DuckDB's, through nanobind) then printed a screen of "nanobind: leaked
    27 instances! ... leaked 111 functions!" on every stop of ``streamrec serve``."""
    global _serving
    _serving = False
    gc.unfreeze()
    gc.collect()
