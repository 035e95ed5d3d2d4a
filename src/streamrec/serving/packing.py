"""Strings in ``.npz`` snapshots without pickle: one UTF-8 byte array and the byte lengths."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = ["pack_strings", "unpack_strings"]


def pack_strings(values: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Strings as one UTF-8 byte array and their byte lengths (numpy without object arrays)."""
    encoded = [v.encode() for v in values]
    blob = np.frombuffer(b"".join(encoded), np.uint8)
    return blob, np.fromiter((len(e) for e in encoded), np.int64, len(encoded))


def unpack_strings(blob: np.ndarray, lengths: np.ndarray) -> list[str]:
    data = blob.tobytes()
    ends = np.cumsum(lengths).tolist()
    starts = [0, *ends][: len(ends)]  # none for no strings
    return [data[a:b].decode() for a, b in zip(starts, ends, strict=True)]
