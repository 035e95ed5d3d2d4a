"""What streamrec serves to browsers: the tracker, the demo shop, the operator dashboard.

The static files live in ``static/`` (shipped as package data); :mod:`streamrec.web.catalogue`
generates the demo shop's catalogue and background traffic.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"

__all__ = ["STATIC_DIR"]
