"""Promotion slots: how many (rounding) and where (evenly spread)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from streamrec.models.storage import open_model_files
from streamrec.serving.promotions import (
    PROMOTIONS_DIR,
    Promotion,
    PromotionStore,
    UnknownPromotion,
    placed,
    slots_of,
)


def promos(*shares: float) -> list[Promotion]:
    return [
        Promotion(f"p{k}", "INCLUDE ItemID WHERE Items.x IN (1)", s) for k, s in enumerate(shares)
    ]


def test_slots_round_half_up_and_never_exceed_n() -> None:
    assert slots_of(10, promos(0.25)) == [3]  # 2.5 -> 3
    assert slots_of(10, promos(0.24)) == [2]
    assert slots_of(3, promos(0.5, 0.5)) == [2, 1]  # 1.5 + 1.5 rounds to 4 > 3: the last gets less
    assert slots_of(5, promos(0.0)) == [0]


def test_promoted_items_are_spread_evenly() -> None:
    assert placed(list("abcdefgh"), ["X", "Y"]) == list("abXcdefYgh")
    assert placed([], ["X", "Y"]) == ["X", "Y"]
    assert placed(["a", "b"], []) == ["a", "b"]


@given(st.integers(0, 30), st.integers(0, 30))
def test_placed_keeps_every_item_and_both_orders(others: int, promoted: int) -> None:
    rest = [f"o{k}" for k in range(others)]
    extra = [f"p{k}" for k in range(promoted)]
    out = placed(rest, extra)
    assert sorted(out) == sorted(rest + extra)
    assert [i for i in out if i.startswith("o")] == rest
    assert [i for i in out if i.startswith("p")] == extra


def test_every_process_reads_the_promotions_where_the_models_are(tmp_path: Path) -> None:
    """Two stores on one model location, as two API processes: a change shows at once."""
    first = PromotionStore(open_model_files(str(tmp_path), PROMOTIONS_DIR))
    second = PromotionStore(open_model_files(str(tmp_path), PROMOTIONS_DIR))
    first.put(Promotion("sale", "INCLUDE ItemID WHERE Items.x IN ($X)", 0.2, {"X": ["a", "b"]}))
    assert second.get("sale").params == {"X": ["a", "b"]} and second.names() == ["sale"]
    assert (tmp_path / PROMOTIONS_DIR / "sale.json").exists()
    assert not (tmp_path / "campaigns").exists()  # not mistaken for a campaign
    second.delete("sale")
    with pytest.raises(UnknownPromotion):
        first.get("sale")
