from __future__ import annotations

import math

import numpy as np
import pytest

from streamrec.training.metrics import (
    catalogue_coverage,
    hit_rate,
    mrr,
    ndcg,
    ranking_metrics,
    target_ranks,
)

RECS = np.array([[5, 3, 9], [1, 2, 4], [7, 8, 6], [0, -1, -1]])
TARGETS = np.array([9, 1, 2, -1])  # rank 3, rank 1, miss, unknown target (miss, not padding)


def test_ranks_by_hand() -> None:
    assert target_ranks(RECS, TARGETS).tolist() == [3, 1, 0, 0]


def test_hit_rate_ndcg_mrr_by_hand() -> None:
    assert hit_rate(RECS, TARGETS) == pytest.approx(2 / 4)
    assert ndcg(RECS, TARGETS) == pytest.approx((1 / math.log2(4) + 1.0) / 4)
    assert mrr(RECS, TARGETS) == pytest.approx((1 / 3 + 1.0) / 4)


def test_coverage_ignores_padding() -> None:
    # distinct real items shown: 0,1,2,3,4,5,6,7,8,9 -> 10 of 20
    assert catalogue_coverage(RECS, 20) == pytest.approx(0.5)


def test_ranking_metrics_names_carry_k() -> None:
    assert set(ranking_metrics(RECS, TARGETS, 20)) == {"hr@3", "ndcg@3", "mrr@3", "coverage"}


def test_empty_input_is_zero() -> None:
    empty = np.zeros((0, 10), np.int32)
    assert hit_rate(empty, np.zeros(0, np.int64)) == 0.0
