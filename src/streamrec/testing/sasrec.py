"""Random SASRec weights for tests and benchmarks: what the numpy serving path computes does not
depend on how the weights were learned, so these need no JAX."""

from __future__ import annotations

import numpy as np

from streamrec.recommenders.sasrec_numpy import weight_names
from streamrec.recommenders.sequential import Sequential

__all__ = ["random_sequential", "random_weights"]


def random_weights(
    n_items: int, dim: int, max_len: int, n_blocks: int, seed: int = 0, scale: float = 0.5
) -> dict[str, np.ndarray]:
    """Every array of a model of this shape, float32 Normal(0, ``scale``)."""
    rng = np.random.default_rng(seed)
    shapes = {"item_emb": (n_items + 1, dim), "pos_emb": (max_len, dim)}
    return {
        name: rng.normal(
            0.0, scale, shapes.get(name, (dim, dim) if "_w" in name else (dim,))
        ).astype(np.float32)
        for name in weight_names(n_blocks)
    }


def random_sequential(
    n_items: int,
    dim: int,
    max_len: int,
    n_blocks: int,
    n_heads: int = 1,
    members: int = 1,
    seed: int = 0,
    scale: float = 0.5,
) -> Sequential:
    """A ready ``Sequential`` of ``members`` seeds (``seed``, ``seed + 1``, ...)."""
    model = Sequential(dim=dim, max_len=max_len, n_blocks=n_blocks, n_heads=n_heads, tune=False,
                       members=members)  # fmt: skip
    model.n_items = n_items
    model._set_members(
        [random_weights(n_items, dim, max_len, n_blocks, seed + k, scale) for k in range(members)]
    )
    return model
