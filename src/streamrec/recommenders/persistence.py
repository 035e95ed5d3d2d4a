"""Save and load models: arrays in one ``.npz`` (no pickles) plus a JSON metadata file.

``model.json`` is written last and records the sha256, shape and dtype of every array, so a
partial or corrupt save is refused at load with a ModelError instead of serving garbage.
"""

from __future__ import annotations

import hashlib
import json
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from streamrec.errors import ModelError
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.registry import recipe_class
from streamrec.recommenders.vocab import Vocabulary

__all__ = ["FORMAT_VERSION", "load_model", "read_metadata", "save_model"]

FORMAT_VERSION = 1
_ARRAYS = "arrays.npz"
_META = "model.json"


def save_model(model: Recommender, path: str | os.PathLike[str]) -> None:
    """Write the model into directory ``path`` (created if needed), atomically per file."""
    model._require_fitted()
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = dict(model._arrays())
    if model.item_vocab is not None:
        arrays["item_ids"] = model.item_vocab.to_array()
    tmp = folder / (_ARRAYS + ".tmp.npz")
    np.savez(tmp, allow_pickle=False, **arrays)
    os.replace(tmp, folder / _ARRAYS)
    meta = {
        "format": FORMAT_VERSION,
        "recipe": model.recipe,
        "params": model.params(),
        "n_items": model.n_items,
        "metadata": model.metadata,
        "arrays": {k: {"shape": list(v.shape), "dtype": v.dtype.str} for k, v in arrays.items()},
        "sha256": _sha256(folder / _ARRAYS),
    }
    tmp_meta = folder / (_META + ".tmp")
    tmp_meta.write_text(json.dumps(meta, indent=2, sort_keys=True))
    os.replace(tmp_meta, folder / _META)


def read_metadata(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The parsed ``model.json`` of a saved model (ModelError if missing or unreadable)."""
    file = Path(path) / _META
    try:
        meta = json.loads(file.read_text())
    except FileNotFoundError as exc:
        raise ModelError(f"{file}: model metadata missing (incomplete save?)") from exc
    except (OSError, ValueError) as exc:
        raise ModelError(f"{file}: model metadata unreadable: {exc}") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_VERSION:
        raise ModelError(f"{file}: not a streamrec model of format {FORMAT_VERSION}")
    return meta


def load_model(path: str | os.PathLike[str]) -> Recommender:
    """Load a saved model, verifying checksum, array names, shapes and dtypes."""

    meta = read_metadata(path)
    arrays = _load_arrays(Path(path) / _ARRAYS, meta)
    try:
        model = recipe_class(str(meta["recipe"]))(**dict(meta["params"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelError(f"{path}: bad recipe or parameters in model metadata: {exc}") from exc
    model.n_items = int(meta["n_items"])
    model.metadata = dict(meta.get("metadata", {}))
    if "item_ids" in arrays:
        model.item_vocab = Vocabulary(str(x) for x in arrays.pop("item_ids"))
    model._restore(arrays)
    return model


def _load_arrays(file: Path, meta: dict[str, Any]) -> dict[str, np.ndarray]:
    if not file.exists():
        raise ModelError(f"{file}: model arrays missing")
    if _sha256(file) != meta.get("sha256"):
        raise ModelError(f"{file}: checksum mismatch, the model file is corrupt or partial")
    try:
        with np.load(file, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ModelError(f"{file}: cannot read model arrays: {exc}") from exc
    expected: dict[str, dict[str, Any]] = meta.get("arrays", {})
    if set(arrays) != set(expected):
        raise ModelError(f"{file}: arrays {sorted(arrays)} differ from metadata {sorted(expected)}")
    for name, spec in expected.items():
        arr = arrays[name]
        if list(arr.shape) != list(spec["shape"]) or arr.dtype.str != spec["dtype"]:
            raise ModelError(
                f"{file}: array {name!r} is {arr.dtype.str}{list(arr.shape)}, "
                f"metadata says {spec['dtype']}{spec['shape']}"
            )
    return arrays


def _sha256(file: Path) -> str:
    digest = hashlib.sha256()
    with file.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
