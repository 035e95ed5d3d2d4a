"""The recipes every generic recipe test runs, with settings that keep them fast; the
``sequential`` recipe only where its training extra (JAX) is installed, marked ``sequential``."""

from __future__ import annotations

from typing import Any

import pytest

from streamrec.recommenders import RECIPES


def _has_jax() -> bool:
    try:
        import jax  # noqa: F401
    except ImportError:
        return False
    return True


HAS_JAX = _has_jax()
NEEDS_JAX = [
    pytest.mark.sequential,
    pytest.mark.skipif(not HAS_JAX, reason="needs streamrec[sequential]: make test-sequential"),
]
FAST_PARAMS: dict[str, dict[str, object]] = {
    "als": {"iterations": 3, "factors": 16},
    "sequential": {"tune": False, "epochs": 3, "dim": 16, "max_len": 20},
}


def trained_recipes() -> list[Any]:
    """Every recipe name, the sequential one marked as needing JAX."""
    return [pytest.param(n, marks=NEEDS_JAX) if n == "sequential" else n for n in sorted(RECIPES)]


def fast_params(name: str) -> dict[str, object]:
    return dict(FAST_PARAMS.get(name, {}))
