"""Training the SASRec weights with JAX on CPU (the optional ``streamrec[sequential]`` extra).

Only ``Sequential.fit`` imports this module; serving runs ``sasrec_numpy.forward_last`` on the
exported arrays. The forward pass here is the numpy one written for every position at once (for
the loss at every step of a sequence) plus dropout, and a test holds the two to 1e-5.

Loss: cross-entropy of the next item at every position, either over the whole catalogue
(``softmax``: the full-softmax SASRec of Petrov and Macdonald, which they found to match or beat
BERT4Rec) or over the target and ``n_negatives`` uniformly sampled items shared by the batch
(``sampled``, for catalogues where a batch's full logits would not fit in memory).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax

from streamrec.recommenders.sasrec_numpy import LN_EPS, weight_names

__all__ = [
    "Architecture",
    "TrainResult",
    "forward_all",
    "init_weights",
    "shuffle_ties",
    "train_weights",
]

_MASKED = -1e9
Params = dict[str, Any]


@dataclass(frozen=True)
class Architecture:
    n_items: int
    dim: int
    max_len: int
    n_blocks: int
    n_heads: int
    dropout: float


@dataclass(frozen=True)
class TrainResult:
    weights: dict[str, np.ndarray]
    epochs: int  # epochs of the returned weights
    history: list[tuple[int, float]]  # (epoch, validation score) where one was measured
    seconds: float


def init_weights(arch: Architecture, seed: int) -> dict[str, np.ndarray]:
    """Normal(0, 1/sqrt(d)) embeddings and Glorot-uniform matrices; unit gains, zero biases."""
    rng = np.random.default_rng(seed)
    d = arch.dim
    out: dict[str, np.ndarray] = {}
    for name in weight_names(arch.n_blocks):
        short = name.split("_", 1)[1] if name.startswith("b") and name[1].isdigit() else name
        out[name] = _init(rng, short, arch, d)
    out["item_emb"][0] = 0.0  # padding
    return out


def _init(rng: np.random.Generator, short: str, arch: Architecture, d: int) -> np.ndarray:
    if short in ("item_emb", "pos_emb"):
        rows = arch.n_items + 1 if short == "item_emb" else arch.max_len
        return rng.normal(0.0, 1.0 / math.sqrt(d), (rows, d)).astype(np.float32)
    if short.endswith("_g"):
        return np.ones(d, np.float32)
    if short.startswith("w"):
        limit = math.sqrt(6.0 / (2 * d))
        return rng.uniform(-limit, limit, (d, d)).astype(np.float32)
    return np.zeros(d, np.float32)


def _layer_norm(x: Any, gain: Any, bias: Any) -> Any:
    mean = x.mean(axis=-1, keepdims=True)
    var = jnp.square(x - mean).mean(axis=-1, keepdims=True)
    return (x - mean) / jnp.sqrt(var + LN_EPS) * gain + bias


def _dropout(x: Any, rate: float, key: Any) -> Any:
    if key is None or rate <= 0:
        return x
    keep = jax.random.bernoulli(key, 1.0 - rate, x.shape)
    return jnp.where(keep, x / (1.0 - rate), 0.0)


def forward_all(p: Params, seqs: Any, arch: Architecture, key: Any = None) -> Any:
    """Final hidden states [B, T, d] of every position of right-aligned ``seqs`` [B, T];
    ``key`` switches dropout on (training)."""
    t = seqs.shape[1]
    keys = list(jax.random.split(key, 1 + 2 * arch.n_blocks)) if key is not None else None
    real = (seqs > 0)[:, :, None]
    x = p["item_emb"][seqs] * math.sqrt(arch.dim) + p["pos_emb"][arch.max_len - t :]
    x = _dropout(x, arch.dropout, keys[0] if keys else None) * real
    allowed = jnp.tril(jnp.ones((t, t), bool))[None, :, :] & (seqs > 0)[:, None, :]
    for block in range(arch.n_blocks):
        pre = f"b{block}_"
        h = _layer_norm(x, p[pre + "ln1_g"], p[pre + "ln1_b"])
        att = _attention(p, pre, h, allowed, arch.n_heads) @ p[pre + "wo"] + p[pre + "bo"]
        x = x + _dropout(att, arch.dropout, keys[1 + 2 * block] if keys else None)
        h = _layer_norm(x, p[pre + "ln2_g"], p[pre + "ln2_b"])
        ff = jnp.maximum(h @ p[pre + "w1"] + p[pre + "b1"], 0.0) @ p[pre + "w2"] + p[pre + "b2"]
        x = (x + _dropout(ff, arch.dropout, keys[2 + 2 * block] if keys else None)) * real
    return _layer_norm(x, p["ln_g"], p["ln_b"])


def _attention(p: Params, pre: str, h: Any, allowed: Any, n_heads: int) -> Any:
    b, t, d = h.shape
    hd = d // n_heads

    def heads(w: str) -> Any:
        return (h @ p[pre + "w" + w] + p[pre + "b" + w]).reshape(b, t, n_heads, hd)

    q, k, v = heads("q"), heads("k"), heads("v")
    logits = jnp.einsum("bqhe,bkhe->bhqk", q, k) / math.sqrt(hd)
    logits = jnp.where(allowed[:, None, :, :], logits, _MASKED)
    probs = jax.nn.softmax(logits, axis=-1)
    return jnp.einsum("bhqk,bkhe->bqhe", probs, v).reshape(b, t, d)


def _loss_fn(arch: Architecture, n_negatives: int) -> Callable[..., Any]:
    def loss(p: Params, seqs: Any, targets: Any, key: Any) -> Any:
        drop_key, neg_key = jax.random.split(key)
        hidden = forward_all(p, seqs, arch, drop_key)
        items = p["item_emb"][1:]
        mask = targets > 0
        if n_negatives <= 0:
            logits = hidden @ items.T
            picked = jnp.take_along_axis(logits, jnp.maximum(targets - 1, 0)[..., None], -1)
            nll = jax.nn.logsumexp(logits, axis=-1) - picked[..., 0]
        else:
            negs = jax.random.randint(neg_key, (n_negatives,), 0, arch.n_items)
            pos = jnp.sum(hidden * items[jnp.maximum(targets - 1, 0)], axis=-1)
            neg = hidden @ items[negs].T
            neg = jnp.where(negs[None, None, :] == targets[..., None] - 1, _MASKED, neg)
            nll = jax.nn.logsumexp(jnp.concatenate([pos[..., None], neg], -1), -1) - pos
        return jnp.sum(nll * mask) / jnp.maximum(mask.sum(), 1)

    return loss


def windows(
    sequences: list[np.ndarray], max_len: int, rng: np.random.Generator | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Training windows (inputs, next-item targets), each [N, max_len], right-aligned, codes
    + 1: every sequence cut from its end into windows of ``max_len`` steps, so long histories
    give several windows and every event but each sequence's first is a target once. With
    ``rng`` the cuts below the newest window move by a random offset (the second window ends
    0 to max_len - 1 steps inside the first, whose targets it then shares): called each epoch,
    an older event is seen after a different context each time."""
    inputs, targets = [], []
    for seq in sequences:
        codes = np.asarray(seq, np.int64) + 1
        end = codes.size - 1
        newest = True
        while end > 0:
            start = max(0, end - max_len)
            row_in = np.zeros(max_len, np.int64)
            row_out = np.zeros(max_len, np.int64)
            row_in[max_len - (end - start) :] = codes[start:end]
            row_out[max_len - (end - start) :] = codes[start + 1 : end + 1]
            inputs.append(row_in)
            targets.append(row_out)
            shift = int(rng.integers(0, max_len)) if rng is not None and newest and start else 0
            end, newest = start + shift, False
    if not inputs:
        return np.zeros((0, max_len), np.int64), np.zeros((0, max_len), np.int64)
    return np.stack(inputs), np.stack(targets)


@dataclass(frozen=True)
class Schedule:
    """How long to train: at most ``max_epochs`` and ``budget_s`` seconds; with ``evaluate``
    (weights -> validation score, higher is better) every ``eval_every`` epochs, stopping after
    ``patience`` evaluations without a gain and returning the best weights seen."""

    max_epochs: int
    budget_s: float
    batch_size: int = 128
    learning_rate: float = 1e-3
    n_negatives: int = 0
    eval_every: int = 5
    patience: int = 3
    evaluate: Callable[[dict[str, np.ndarray]], float] | None = None
    random_cuts: bool = False  # windows re-cut each epoch at a random offset (``windows``)
    shuffle_ties: bool = False  # events of equal timestamp reordered each epoch (``shuffle_ties``)


def shuffle_ties(
    sequences: list[np.ndarray], timestamps: list[np.ndarray], rng: np.random.Generator
) -> list[np.ndarray]:
    """``sequences`` with each run of events of one timestamp in a random order (each sequence
    is in time order already). Their recorded order says nothing: on MovieLens 100K half of a
    user's consecutive ratings share their second, and ties keep the file's order. Called each
    epoch, the model learns such events as simultaneous instead of a chance order."""
    out = list(sequences)
    for k, (seq, ts) in enumerate(zip(sequences, timestamps, strict=True)):
        if seq.size > 1 and bool((ts[1:] == ts[:-1]).any()):
            out[k] = seq[np.lexsort((rng.random(seq.size), ts))]
    return out


def train_weights(
    arch: Architecture,
    sequences: list[np.ndarray],
    schedule: Schedule,
    seed: int,
    timestamps: list[np.ndarray] | None = None,
) -> TrainResult:
    """Adam on the next-item loss over the windows of ``sequences`` (item codes, oldest first;
    ``timestamps``, each sequence's, for ``schedule.shuffle_ties``)."""
    started = time.perf_counter()
    ties = np.random.default_rng([seed, 2]) if schedule.shuffle_ties and timestamps else None
    cuts = np.random.default_rng([seed, 1]) if schedule.random_cuts else None

    def epoch_windows(epoch: int) -> tuple[np.ndarray, np.ndarray]:
        ordered = sequences if ties is None else shuffle_ties(sequences, timestamps or [], ties)
        return windows(ordered, arch.max_len, cuts if epoch else None)

    inputs, targets = epoch_windows(0)
    params = {k: jnp.asarray(v) for k, v in init_weights(arch, seed).items()}
    optimiser = optax.adam(schedule.learning_rate)
    state = optimiser.init(params)
    step = _step_fn(arch, schedule.n_negatives, optimiser)
    key = jax.random.PRNGKey(seed)
    rng = np.random.default_rng(seed)
    tracker = _Tracker(schedule)
    epoch = 0
    while epoch < schedule.max_epochs and (epoch == 0 or _left(started, schedule) > 0):
        if (cuts is not None or ties is not None) and epoch:
            inputs, targets = epoch_windows(epoch)
        for rows in _batches(rng, inputs.shape[0], schedule.batch_size):
            key, sub = jax.random.split(key)
            params, state = step(params, state, inputs[rows], targets[rows], sub)
            if _left(started, schedule) <= 0:
                break  # an epoch cut short by the budget still counts as one
        epoch += 1
        if tracker.after_epoch(epoch, params, started):
            break
    best, best_epoch = tracker.result(params, epoch)
    return TrainResult(best, best_epoch, tracker.history, time.perf_counter() - started)


def _left(started: float, schedule: Schedule) -> float:
    return schedule.budget_s - (time.perf_counter() - started)


def _step_fn(arch: Architecture, n_negatives: int, optimiser: Any) -> Callable[..., Any]:
    grad = jax.value_and_grad(_loss_fn(arch, n_negatives))

    def step(params: Params, state: Any, seqs: Any, targets: Any, key: Any) -> Any:
        _, grads = grad(params, seqs, targets, key)
        updates, state = optimiser.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    jitted: Callable[..., Any] = jax.jit(step)
    return jitted


def _batches(rng: np.random.Generator, n: int, size: int) -> Iterator[np.ndarray]:
    """Shuffled batches of exactly ``size`` rows (the last one topped up with random rows), so
    the jitted step compiles once."""
    if n == 0:
        return
    order = rng.permutation(n)
    for start in range(0, n, size):
        rows = order[start : start + size]
        if rows.size < size:
            rows = np.concatenate([rows, rng.integers(0, n, size - rows.size)])
        yield rows


class _Tracker:
    """Validation during training: the best weights so far and when to stop."""

    def __init__(self, schedule: Schedule) -> None:
        self.schedule = schedule
        self.history: list[tuple[int, float]] = []
        self.best: tuple[float, int, dict[str, np.ndarray]] | None = None
        self.stale = 0

    def after_epoch(self, epoch: int, params: Params, started: float) -> bool:
        """Whether to stop after ``epoch``."""
        sch = self.schedule
        out_of_time = _left(started, sch) <= 0
        last = epoch >= sch.max_epochs or out_of_time
        if sch.evaluate is None or (epoch % sch.eval_every and not last):
            return False
        weights = to_numpy(params)
        score = sch.evaluate(weights)
        self.history.append((epoch, round(score, 5)))
        if self.best is None or score > self.best[0]:
            self.best, self.stale = (score, epoch, weights), 0
        else:
            self.stale += 1
        return self.stale >= sch.patience

    def result(self, params: Params, epoch: int) -> tuple[dict[str, np.ndarray], int]:
        if self.best is None:
            return to_numpy(params), epoch
        return self.best[2], self.best[1]


def to_numpy(params: Params) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float32) for k, v in params.items()}
