"""The SASRec forward pass in numpy: what serving runs, with no deep-learning framework.

The trained weights (``sequential.py`` trains them with JAX, ``sasrec_jax.py``) are plain float32
arrays named as in ``weight_names``. A sequence is item codes shifted by one (0 is padding),
right-aligned so its newest event always sits at the last of ``max_len`` learned positions;
shorter sequences use the last positions only. Each of ``n_blocks`` pre-norm blocks is causal
multi-head self-attention then a ReLU feed-forward layer, each with a residual connection; the
final layer norm of the newest position, times every item embedding, is the next item's logits.

Padding needs no special case here: padded keys get a logit of ``_MASKED`` (their softmax weight
is exactly 0 in float32), so a left-padded batch gives each row the output of its unpadded
sequence, which is what the one-user path computes without any padding. Only the newest
position's output is needed, so the last block computes its query, attention and feed-forward
for that position alone (keys and values still cover the sequence).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

import numpy as np

__all__ = [
    "LN_EPS",
    "block_weight_names",
    "forward_last",
    "item_logits",
    "serving_weights",
    "weight_names",
]

LN_EPS = 1e-6
_MASKED = -1e9
_BLOCK_WEIGHTS = (
    "ln1_g", "ln1_b", "wq", "bq", "wk", "bk", "wv", "bv", "wo", "bo",
    "ln2_g", "ln2_b", "w1", "b1", "w2", "b2",
)  # fmt: skip

Weights = Mapping[str, np.ndarray]


def block_weight_names(block: int) -> list[str]:
    return [f"b{block}_{name}" for name in _BLOCK_WEIGHTS]


def weight_names(n_blocks: int) -> list[str]:
    """Every array of a model with ``n_blocks`` blocks."""
    names = ["item_emb", "pos_emb", "ln_g", "ln_b"]
    for block in range(n_blocks):
        names += block_weight_names(block)
    return names


def serving_weights(w: Weights, n_blocks: int) -> dict[str, np.ndarray]:
    """``w`` plus each block's query, key and value projections side by side (``wqkv``,
    ``bqkv``): one product instead of three per block, built once per model."""
    out = dict(w)
    for block in range(n_blocks):
        pre = f"b{block}_"
        out[pre + "wqkv"] = np.ascontiguousarray(
            np.concatenate([w[pre + "wq"], w[pre + "wk"], w[pre + "wv"]], axis=1)
        )
        out[pre + "bqkv"] = np.concatenate([w[pre + "bq"], w[pre + "bk"], w[pre + "bv"]])
    return out


def layer_norm(x: np.ndarray, gain: np.ndarray, bias: np.ndarray) -> np.ndarray:
    # np.add.reduce rather than .mean(): the same sums without mean's per-call overhead,
    # which was a fifth of a one-user forward pass
    inv_d = np.float32(1.0 / x.shape[-1])
    centred = x - np.add.reduce(x, axis=-1, keepdims=True) * inv_d
    var = np.add.reduce(centred * centred, axis=-1, keepdims=True) * inv_d
    return np.asarray(centred / np.sqrt(var + np.float32(LN_EPS)) * gain + bias, np.float32)


def _attention(
    q: np.ndarray, k: np.ndarray, v: np.ndarray, allowed: np.ndarray, n_heads: int
) -> np.ndarray:
    """Multi-head attention of queries [B, Q, d] over keys/values [B, T, d]; ``allowed`` is a
    bool [B, Q, T] mask."""
    b, nq, d = q.shape
    t, hd = k.shape[1], d // n_heads
    if n_heads == 1:  # no reshapes
        return _softmax_mix(q @ k.transpose(0, 2, 1), v, allowed, d)
    qh = q.reshape(b, nq, n_heads, hd).transpose(0, 2, 1, 3)
    kh = k.reshape(b, t, n_heads, hd).transpose(0, 2, 3, 1)
    vh = v.reshape(b, t, n_heads, hd).transpose(0, 2, 1, 3)
    out = _softmax_mix(qh @ kh, vh, allowed[:, None, :, :], hd)
    return np.asarray(out.transpose(0, 2, 1, 3).reshape(b, nq, d), dtype=np.float32)


def _softmax_mix(logits: np.ndarray, v: np.ndarray, allowed: np.ndarray, hd: int) -> np.ndarray:
    """softmax(logits / sqrt(hd), masked) @ v."""
    logits = np.where(allowed, logits * np.float32(1.0 / np.sqrt(hd)), np.float32(_MASKED))
    logits -= logits.max(axis=-1, keepdims=True)
    probs = np.exp(logits)
    probs /= np.add.reduce(probs, axis=-1, keepdims=True)
    return np.asarray(probs @ v, dtype=np.float32)


def _block(
    x: np.ndarray, w: Weights, prefix: str, allowed: np.ndarray, n_heads: int, last_only: bool
) -> np.ndarray:
    """One pre-norm block; with ``last_only`` it returns the newest position only [B, 1, d]."""
    h = layer_norm(x, w[prefix + "ln1_g"], w[prefix + "ln1_b"])
    q, k, v = _projections(h, w, prefix)
    q = q[:, -1:, :] if last_only else q
    mask = allowed[:, -1:, :] if last_only else allowed
    attended = _attention(q, k, v, mask, n_heads) @ w[prefix + "wo"] + w[prefix + "bo"]
    x = (x[:, -1:, :] if last_only else x) + attended
    h = layer_norm(x, w[prefix + "ln2_g"], w[prefix + "ln2_b"])
    ff = np.maximum(h @ w[prefix + "w1"] + w[prefix + "b1"], 0.0) @ w[prefix + "w2"]
    return np.asarray(x + ff + w[prefix + "b2"], dtype=np.float32)


def _projections(
    h: np.ndarray, w: Weights, prefix: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Queries, keys and values of ``h`` (one product where ``serving_weights`` fused them)."""
    fused = w.get(prefix + "wqkv")
    if fused is None:
        return tuple(h @ w[prefix + "w" + n] + w[prefix + "b" + n] for n in "qkv")  # type: ignore[return-value]
    qkv = h @ fused + w[prefix + "bqkv"]
    d = h.shape[-1]
    return qkv[..., :d], qkv[..., d : 2 * d], qkv[..., 2 * d :]


def forward_last(w: Weights, seqs: np.ndarray, n_blocks: int, n_heads: int) -> np.ndarray:
    """The newest position's final hidden state [B, d] of right-aligned ``seqs`` [B, T] (item
    codes + 1, 0 = padding, T <= max_len; each row needs one item at least)."""
    seqs = np.asarray(seqs, dtype=np.int64)
    t = seqs.shape[1]
    emb = w["item_emb"]
    pos = w["pos_emb"][w["pos_emb"].shape[0] - t :]
    x = emb[seqs] * np.float32(np.sqrt(emb.shape[1])) + pos
    real = seqs > 0
    padded = not real.all()
    allowed = _causal(t)[None, :, :]
    if padded:
        x *= real[:, :, None]
        allowed = allowed & real[:, None, :]
    for block in range(n_blocks):
        last = block == n_blocks - 1
        x = _block(x, w, f"b{block}_", allowed, n_heads, last)
        if padded and not last:
            x *= real[:, :, None]
    return layer_norm(x[:, -1, :], w["ln_g"], w["ln_b"])


@functools.lru_cache(maxsize=8)
def _causal(t: int) -> np.ndarray:
    mask = np.tril(np.ones((t, t), bool))
    mask.flags.writeable = False
    return mask


def item_logits(w: Weights, hidden: np.ndarray) -> np.ndarray:
    """Logits [B, n_items] of every item (model index) for hidden states [B, d]."""
    return np.asarray(hidden @ w["item_emb"][1:].T, dtype=np.float32)
