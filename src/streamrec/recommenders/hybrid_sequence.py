"""The hybrid's optional ``sequence`` term: a SASRec model (the ``sequential`` recipe) over the
user's latest events, blended into the hybrid's scores with a weight learned on validation.

Training the model needs the ``streamrec[sequential]`` extra (JAX); without it, or with
``sequence_budget_s = 0`` (the default), there is no term and the hybrid is what it was.
Serving needs numpy only: the model's arrays are saved with the hybrid's under ``PREFIX``.

The model is trained once, within ``sequence_budget_s``, on the events that every validation
fold of the hybrid fits (each user's last two events left out), with its own tuning (candidates
and early stopping on the last new item of that data), and served as trained there, as the
``sequential`` recipe serves its winner: the blend weight is learned on the very scores the
service will compute. The term is each item's softmax probability relative to the user's top
item at temperature ``sequence_temperature``, ``exp((logit - max) / T)`` in (0, 1], on the
scale of the hybrid's other row-normalised terms.
"""

from __future__ import annotations

import importlib.util

import numpy as np

from streamrec.errors import ModelError
from streamrec.recommenders.data import HistoryBatch, Interactions
from streamrec.recommenders.sasrec_numpy import weight_names
from streamrec.recommenders.sequential import Sequential, member_arrays, split_members

__all__ = ["PREFIX", "available", "restore", "sequence_arrays", "shifted_logits", "term", "train"]

PREFIX = "sequence_"
_EXTRA = ("jax", "optax")
# The first of the recipe's candidates only, with the whole budget and early stopping: on
# MovieLens 100K at a load of 4 the other two got 10 and 5 epochs of theirs and never won
# (validation NDCG@10 0.081 and 0.053 against 0.099), and the first alone reached 0.104.
_CANDIDATES = 1


def available() -> bool:
    """Whether the training extra is installed (no import of it here)."""
    return all(importlib.util.find_spec(name) is not None for name in _EXTRA)


def train(
    interactions: Interactions, budget_s: float, seed: int, members: int = 1
) -> tuple[Sequential | None, str]:
    """(the model, what happened); None when the data is too small for its own tuning.
    ``members``: seeds averaged, as the ``sequential`` recipe's setting of that name."""
    model = Sequential(train_time_budget_s=budget_s, seed=seed, candidates=_CANDIDATES,
                       members=members)  # fmt: skip
    try:
        model.fit(interactions)
    except ModelError as exc:
        return None, f"not trained: {exc}"
    if model.metadata.get("training", {}).get("tuning") != "validation":
        return None, "not trained: too few validation cases for its own tuning"
    return model, "trained"


def shifted_logits(model: Sequential, batch: HistoryBatch) -> np.ndarray:
    """Each row's logits minus its largest (<= 0); rows without events stay 0."""
    logits = model.logits(batch)
    logits -= logits.max(axis=1, keepdims=True)
    return logits


def term(shifted: np.ndarray, temperature: float) -> np.ndarray:
    """The blend term of ``shifted_logits``: exp(shifted / T), 1 at each row's top item."""
    return np.exp(shifted * np.float32(1.0 / temperature), dtype=np.float32)


def sequence_arrays(model: Sequential) -> dict[str, np.ndarray]:
    return {PREFIX + name: array for name, array in member_arrays(model.members).items()}


def restore(arrays: dict[str, np.ndarray], n_items: int) -> Sequential | None:
    """The model saved by ``sequence_arrays`` (None when there is none); its shape is read from
    the arrays: dimension and maximum length from the embeddings, blocks from the names (heads:
    the recipe's default, which ``train`` keeps)."""
    named = {k[len(PREFIX) :]: v for k, v in arrays.items() if k.startswith(PREFIX)}
    if not named:
        return None
    members = split_members(named)
    weights = members[0]
    n_blocks = sum(1 for name in weights if name.endswith("_wq"))
    missing = set(weight_names(n_blocks)) - set(weights)
    if missing or "item_emb" not in weights:
        raise ModelError(f"hybrid sequence arrays missing: {sorted(missing)}")
    dim, max_len = weights["item_emb"].shape[1], weights["pos_emb"].shape[0]
    if any(set(member) != set(weights) for member in members):
        raise ModelError("hybrid sequence arrays: the members' arrays differ")
    model = Sequential(dim=dim, max_len=max_len, n_blocks=n_blocks, tune=False,
                       members=len(members))  # fmt: skip
    model.n_items = n_items
    model._set_members(members)
    return model
