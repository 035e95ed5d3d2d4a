"""The served evaluation: what ``GET /v1/recommendations/{user}`` returns, measured by a protocol
of EVALUATION.md ("What is evaluated is what is served").

For an event table and a protocol: split it; import the training part into a fresh data dir
through the stream and the consumers (:mod:`streamrec.training.served_data`); build the
``Runtime`` the API process builds; for each recipe train from the lake and activate the version
(:func:`streamrec.models.train.train`), then ask ``RecommendationService.recommend(user, n)``
for every test user, the call the route makes. HR, NDCG and MRR come with 95% bootstrap
intervals over test users; a target unknown to training is a miss. The model alone, ranking the
same users' full training histories in one batch, is kept as a diagnostic column.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa

from streamrec.config import Settings
from streamrec.errors import StreamrecError
from streamrec.models.train import train
from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch
from streamrec.recommenders.vocab import Vocabulary
from streamrec.runtime import Runtime
from streamrec.training.intervals import Interval, bootstrap_intervals, paired_intervals
from streamrec.training.served_data import (
    ServedSplit,
    import_training,
    served_settings,
    split_events,
)

__all__ = [
    "VARIANTS",
    "RecipeRun",
    "ServedResult",
    "evaluate_run",
    "evaluate_served",
    "parse_recipe_runs",
    "served_ranks",
    "target_codes",
]

K = 10
Progress = Callable[[str], None]


# ``NAME:VARIANT``: a recipe with these parameters. ``hybrid:sequence`` is the hybrid with its
# optional sequence term (the SASRec model, trained in the default budget of 300 s)
VARIANTS: dict[str, dict[str, Any]] = {
    "tuned": {"tune": True},
    "sequence": {"sequence_budget_s": 300.0},
}


@dataclass(frozen=True)
class RecipeRun:
    """A recipe to evaluate, with parameters (``ease:tuned`` is EASE with ``tune=True``)."""

    recipe: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        for variant, params in VARIANTS.items():
            if self.params and self.params == params:
                return f"{self.recipe}:{variant}"
        return self.recipe


def parse_recipe_runs(names: Sequence[str]) -> list[RecipeRun]:
    """``NAME`` or ``NAME:VARIANT`` (a key of VARIANTS) for each name."""
    runs = []
    for name in names:
        recipe, _, variant = name.partition(":")
        runs.append(RecipeRun(recipe, dict(VARIANTS.get(variant, {}))))
    return runs


@dataclass
class ServedResult:
    recipe: str
    protocol: str
    n_test_users: int = 0
    served: dict[str, Interval] = field(default_factory=dict)  # what the API returns
    model_only: dict[str, Interval] = field(default_factory=dict)  # diagnostic
    train_time_s: float = 0.0
    serve_time_s: float = 0.0
    version: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    # served minus the first recipe's served, over the same test users (paired bootstrap);
    # empty for the first recipe, and where either run was refused
    paired: dict[str, Interval] = field(default_factory=dict)
    paired_with: str | None = None


def evaluate_served(
    table: pa.Table,
    protocol: str,
    runs: Sequence[RecipeRun],
    seed: int = 0,
    base: Settings | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
    k: int = K,
    restart_after_import: bool = False,
) -> list[ServedResult]:
    """The served evaluation of each recipe run, in one data dir (one import, one version per
    recipe, each activated in turn). ``workdir`` keeps the data dir (else a temporary one).

    By default the server is taken to run while the import goes in, so its realtime consumer
    feeds the in-memory stream state (co-occurrence, popularity, trending) with every imported
    event. ``restart_after_import`` serves from a Runtime opened after the import instead, as
    `streamrec serve` started after `streamrec import` does: its stream state is warmed from the
    user-state store (popularity, trending) and its co-occurrence starts empty."""
    split = split_events(table, protocol)
    opts = _Options(seed, k, progress or (lambda _: None), restart_after_import)
    if workdir is not None:
        workdir.mkdir(parents=True, exist_ok=True)
        return _evaluate_in(split, runs, opts, base, workdir)
    with tempfile.TemporaryDirectory(prefix="streamrec-served-") as tmp:
        return _evaluate_in(split, runs, opts, base, Path(tmp))


@dataclass(frozen=True)
class _Options:
    seed: int
    k: int
    say: Progress
    restart_after_import: bool = False


def _evaluate_in(
    split: ServedSplit,
    runs: Sequence[RecipeRun],
    opts: _Options,
    base: Settings | None,
    folder: Path,
) -> list[ServedResult]:
    settings = served_settings(folder / "data", split, base)
    runtime = Runtime(settings)
    try:
        started = time.perf_counter()
        report = import_training(runtime, split, folder, feed=not opts.restart_after_import)
        opts.say(
            f"imported {report.accepted:,} training events in {time.perf_counter() - started:.1f} s"
        )
        if opts.restart_after_import:
            runtime.close()
            runtime = Runtime(settings)
        results: list[ServedResult] = []
        served: list[np.ndarray | None] = []
        for run in runs:
            result, recs = _served_run(runtime, split, run, opts.seed, opts.k)
            _pair(result, recs, results[0] if results else None, served[0] if served else None,
                  split, opts.seed)  # fmt: skip
            results.append(result)
            served.append(recs)
            opts.say(_summary(results[-1], opts.k))
        return results
    finally:
        runtime.close()


def evaluate_run(
    runtime: Runtime, split: ServedSplit, run: RecipeRun, seed: int = 0, k: int = K
) -> ServedResult:
    """Train ``run`` from ``runtime``'s lake, activate it, and measure what its service serves
    to the test users of ``split`` (whose training events ``runtime`` has imported)."""
    return _served_run(runtime, split, run, seed, k)[0]


def _pair(
    result: ServedResult,
    recs: np.ndarray | None,
    first: ServedResult | None,
    first_recs: np.ndarray | None,
    split: ServedSplit,
    seed: int,
) -> None:
    """Fill ``result.paired``: its served lists against the first recipe's, same users."""
    if first is None or recs is None or first_recs is None:
        return
    result.paired = paired_intervals(recs, first_recs, target_codes(split)[1], seed)
    result.paired_with = first.recipe


def _served_run(
    runtime: Runtime, split: ServedSplit, run: RecipeRun, seed: int, k: int
) -> tuple[ServedResult, np.ndarray | None]:
    """``evaluate_run``'s result and the served lists behind it (None: the run was refused)."""
    result = ServedResult(run.label, split.protocol, n_test_users=len(split.users))
    started = time.perf_counter()
    try:
        meta = train(
            runtime.settings, run.recipe, activate=True, registry=runtime.models, params=run.params
        )
    except StreamrecError as exc:
        result.error = str(exc)
        return result, None
    result.train_time_s = time.perf_counter() - started
    result.version = str(meta["version"])
    result.params = dict(meta.get("params", {}))
    items, targets = target_codes(split)
    started = time.perf_counter()
    served = served_ranks(runtime, split.users, items, k)
    result.serve_time_s = time.perf_counter() - started
    result.served = bootstrap_intervals(served, targets, seed)
    model = _active_model(runtime)
    if model is not None:
        recs = model_only_recommendations(model, split, runtime.settings, items, k)
        result.model_only = bootstrap_intervals(recs, targets, seed)
    return result, served


def target_codes(split: ServedSplit) -> tuple[Vocabulary, np.ndarray]:
    """A coding of the target ids (only equality matters) and each test user's target in it,
    -1 where the item never occurs in training: a miss, by the protocol."""
    items = Vocabulary(dict.fromkeys(split.targets))
    trained = set(split.train.column("item_id").to_pylist())
    codes = items.indices(split.targets).astype(np.int64)
    known = np.array([t in trained for t in split.targets], dtype=bool)
    return items, np.where(known, codes, -1)


def served_ranks(
    runtime: Runtime, users: Sequence[str], items: Vocabulary, n: int = K
) -> np.ndarray:
    """[users, n] codes (in ``items``) of what the service recommends to each user; -2 marks an
    item outside ``items`` (never a target), -1 an empty slot."""
    out = np.full((len(users), n), -1, dtype=np.int64)
    recommend = runtime.recommendations.recommend
    for row, user in enumerate(users):
        ids = [item for item, _ in recommend(user, n=n).items]
        codes = items.indices(ids).astype(np.int64)
        out[row, : codes.size] = np.where(codes >= 0, codes, -2)
    return out


def _active_model(runtime: Runtime) -> Recommender | None:
    active = runtime.models.active(runtime.settings.campaign)
    return None if active is None else active.model


def model_only_recommendations(
    model: Recommender, split: ServedSplit, settings: Settings, items: Vocabulary, n: int = K
) -> np.ndarray:
    """The diagnostic: ``model.recommend`` over every test user's whole training history (oldest
    first, event-type weights of the settings) in one batch, dropping what serving drops."""
    vocab = model.item_vocab or Vocabulary()
    batch, exclude = test_histories(split, settings, vocab)
    recs, _ = model.recommend(batch, n=n, exclude_seen=False, exclude=exclude)
    ids = vocab.ids(np.maximum(recs.ravel(), 0)) if len(vocab) else []
    codes = (
        items.indices(ids).astype(np.int64).reshape(recs.shape) if ids else np.full(recs.shape, -2)
    )
    return np.where(recs < 0, -1, np.where(codes >= 0, codes, -2))


def test_histories(
    split: ServedSplit, settings: Settings, vocab: Vocabulary
) -> tuple[HistoryBatch, list[np.ndarray]]:
    """Each test user's training events on items the model knows, and the items to exclude."""
    train = split.train
    user_rows: dict[str, list[int]] = {u: [] for u in split.users}
    for row, user in enumerate(train.column("user_id").to_pylist()):
        rows = user_rows.get(user)
        if rows is not None:
            rows.append(row)
    item = vocab.indices(train.column("item_id").to_pylist()).astype(np.int64)
    types = (
        train.column("event_type").to_pylist()
        if "event_type" in train.column_names
        else ["view"] * len(train)
    )
    weight = np.array([settings.event_type_weights.get(t, 1.0) for t in types], np.float32)
    dropped = np.isin(np.array(types, dtype=object), list(settings.exclude_seen_event_types))
    stamps = train.column("timestamp").to_numpy()
    picks = [np.array([r for r in user_rows[u] if item[r] >= 0], np.int64) for u in split.users]
    lengths = np.array([p.size for p in picks], np.int64)
    flat = np.concatenate(picks) if picks else np.zeros(0, np.int64)
    batch = HistoryBatch(
        np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64),
        item[flat].astype(np.int32), weight[flat], np.asarray(stamps[flat], np.float64),
    )  # fmt: skip
    exclude = [item[p[dropped[p]]] for p in picks]
    return batch, exclude


def _summary(r: ServedResult, k: int) -> str:
    if r.error:
        return f"{r.recipe}: refused: {r.error}"
    hr, ndcg = r.served.get(f"hr@{k}"), r.served.get(f"ndcg@{k}")
    return (
        f"{r.recipe}: served HR@{k} {hr.format() if hr else '-'}, NDCG@{k} "
        f"{ndcg.format() if ndcg else '-'}, train {r.train_time_s:.1f} s, serve {r.serve_time_s:.1f} s"
    )
