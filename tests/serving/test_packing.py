"""Snapshot packing: strings and nested counts as flat arrays, and back."""

from __future__ import annotations

import numpy as np
import pytest

from streamrec.serving import packing
from streamrec.serving.packing import flatten_pairs, flatten_rows, pack_strings, unpack_strings
from streamrec.serving.space import ItemSpace


def test_strings_round_trip_with_any_characters() -> None:
    values = ["", "a", "ü-é", "x\x00y", "🙂", "a,b;c"]
    assert unpack_strings(*pack_strings(values)) == values
    assert unpack_strings(*pack_strings([])) == []


def test_rows_flatten_row_by_row() -> None:
    rows = {7: {1: 2.0, 3: 0.5}, 2: {}, 9: {4: 1.0}}
    keys, columns, values = flatten_rows(rows)
    assert keys.tolist() == [7, 7, 9]
    assert columns.tolist() == [1, 3, 4]
    assert values.tolist() == [2.0, 0.5, 1.0]
    assert [a.size for a in flatten_rows({})] == [0, 0, 0]


def test_pair_lists_flatten_with_their_lengths() -> None:
    lengths, firsts, seconds = flatten_pairs([[(5, 1.5), (6, 2.5)], [], [(2**40, 3.0)]])
    assert lengths.tolist() == [2, 0, 1]
    assert firsts.astype(np.int64).tolist() == [5, 6, 2**40]
    assert seconds.tolist() == [1.5, 2.5, 3.0]
    assert [a.size for a in flatten_pairs([])] == [0, 0, 0]


def test_the_space_packs_its_ids_as_it_grows() -> None:
    space = ItemSpace()
    space.add(["a", "ü"])
    assert unpack_strings(*space.packed_ids()) == ["a", "ü"]
    space.add(["c", "a", "d"])
    assert unpack_strings(*space.packed_ids()) == ["a", "ü", "c", "d"]


def test_rows_flatten_the_same_in_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    rows = {k: {j: float(k * j) for j in range(k % 4)} for k in range(11)}
    whole = flatten_rows(rows)
    monkeypatch.setattr(packing, "CHUNK_ROWS", 2)
    for got, expected in zip(flatten_rows(rows), whole, strict=True):
        assert got.tolist() == expected.tolist()
