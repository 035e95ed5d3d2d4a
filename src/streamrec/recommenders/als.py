"""Implicit-feedback matrix factorisation (Hu, Koren, Volinsky 2008) with the ``implicit`` library.

Users are not looked up by id at serving time: their factors are *folded in* from the history
(one exact least-squares step against the fixed item factors), so new events and new users are
reflected at once without retraining.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np
from threadpoolctl import threadpool_limits

from streamrec.recommenders.base import Recommender
from streamrec.recommenders.data import HistoryBatch, Interactions
from streamrec.recommenders.sparse import history_matrix

__all__ = ["ALS", "ALSConfig"]


@dataclass(frozen=True)
class ALSConfig:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 10.0  # confidence = 1 + alpha * weight
    iterations: int = 15
    threads: int = 1  # the serving machines are small and shared: stay at 1-2
    seed: int = 42
    binary: bool = False
    tune: bool = False  # choose the first four on a validation split of the training data


VALIDATION_USERS = 1_000
# Searched one parameter at a time, from the defaults, in this order (tuning.coordinate_search).
TUNING_AXES: dict[str, tuple[float, ...]] = {
    "factors": (32, 64, 128),
    "regularization": (0.01, 0.05, 0.2),
    "alpha": (1.0, 5.0, 10.0, 40.0),
    "iterations": (8, 15, 25),
}


class ALS(Recommender):
    recipe = "als"

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        threads: int = 1,
        seed: int = 42,
        binary: bool = False,
        tune: bool = False,
    ) -> None:
        super().__init__()
        self.config = ALSConfig(
            factors, regularization, alpha, iterations, threads, seed, binary, tune
        )
        self.item_factors = np.zeros((0, factors), dtype=np.float32)
        self._gram: np.ndarray | None = None

    def _fit(self, interactions: Interactions) -> None:
        from implicit.cpu.als import AlternatingLeastSquares

        if self.config.tune:
            self.config = replace(self._tuned(interactions), tune=False)
        cfg = self.config
        user_items = interactions.to_csr(binary=cfg.binary)
        user_items.data = np.log1p(user_items.data).astype(np.float32)
        # implicit parallelises itself; a BLAS thread pool on top of it only oversubscribes
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=cfg.factors,
                regularization=cfg.regularization,
                alpha=cfg.alpha,
                iterations=cfg.iterations,
                num_threads=cfg.threads,
                random_state=cfg.seed,
            )
            model.fit(user_items, show_progress=False)
        self.item_factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self._gram = None

    def _tuned(self, interactions: Interactions) -> ALSConfig:
        """Factors, regularization, alpha and iterations by validation NDCG@10, one at a time
        (the defaults without enough validation cases)."""
        from streamrec.recommenders.tuning import coordinate_search, validation_split

        config: ALSConfig = self.config
        # every candidate folds in each validation user in Python: 1,000 users keep a search
        # of ten fits within about a minute on 100,000 events
        validation = validation_split(interactions, max_users=VALIDATION_USERS)
        if validation is None:
            self.metadata["tuning"] = "not enough validation cases: defaults kept"
            return config
        base = replace(config, tune=False)
        start = {name: getattr(base, name) for name in TUNING_AXES}
        best, value = coordinate_search(
            lambda p: ALS(**{**asdict(base), **p}), start, TUNING_AXES, validation
        )
        self.metadata["tuning"] = {
            "validation_users": int(validation.users.size),
            "validation_ndcg@10": round(value, 5),
            "chosen": best,
        }
        return replace(base, **best)

    def user_factors(self, batch: HistoryBatch) -> np.ndarray:
        """Fold-in: the exact ALS user step for each history against the fixed item factors."""
        cfg = self.config
        y = self.item_factors
        gram = self._item_gram()
        hist = history_matrix(batch, self.n_items, binary=cfg.binary)
        hist.data = np.log1p(hist.data)
        out = np.zeros((batch.n_users, y.shape[1]), dtype=np.float32)
        for row in range(batch.n_users):
            lo, hi = hist.indptr[row], hist.indptr[row + 1]
            if lo == hi:
                continue
            yu = y[hist.indices[lo:hi]].astype(np.float64)
            conf = 1.0 + cfg.alpha * hist.data[lo:hi].astype(np.float64)
            a = gram + (yu.T * (conf - 1.0)) @ yu
            out[row] = np.linalg.solve(a, yu.T @ conf)
        return out

    def _item_gram(self) -> np.ndarray:
        if self._gram is None:
            y = self.item_factors.astype(np.float64)
            self._gram = y.T @ y + self.config.regularization * np.eye(y.shape[1])
        return self._gram

    def _score(self, batch: HistoryBatch) -> np.ndarray:
        return self.user_factors(batch) @ self.item_factors.T

    def _arrays(self) -> dict[str, np.ndarray]:
        return {"item_factors": self.item_factors}

    def _restore(self, arrays: dict[str, np.ndarray]) -> None:
        self.item_factors = arrays["item_factors"]
        self._gram = None
