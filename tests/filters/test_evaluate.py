"""What filters select, over a small catalogue indexed the way the service indexes it."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.catalogue import Item
from streamrec.errors import ValidationError
from streamrec.filters import (
    FilterContext,
    ItemIndex,
    UserInteractions,
    allowed_items,
    compile_filter,
)
from streamrec.filters.parser import Scalar
from streamrec.recommenders.vocab import Vocabulary

ITEMS = [
    Item("a", "Alpha", ("Comedy",), {"price": 5, "brand": "acme", "in_stock": True}, 100.0),
    Item("b", "Beta", ("Drama", "Comedy"), {"price": 20.5, "brand": "zeta"}, 200.0),
    Item("c", "Gamma", ("Drama",), {"price": "50", "in_stock": False}),
    Item("d", None, (), {}),
]
VOCAB = Vocabulary([i.item_id for i in ITEMS] + ["e"])  # "e": seen on the stream, not catalogued
INDEX = ItemIndex.build(ITEMS, np.arange(len(ITEMS)), len(VOCAB))


def interactions(*events: tuple[str, str, float | None]) -> UserInteractions:
    return UserInteractions(
        items=VOCAB.indices([e[0] for e in events]).astype(np.int64),
        event_types=np.array([e[1] for e in events], dtype=object),
        values=np.array([np.nan if e[2] is None else e[2] for e in events], dtype=np.float64),
        timestamps=np.arange(len(events), dtype=np.float64),
    )


def selected(
    text: str,
    params: dict[str, Scalar | list[Scalar]] | None = None,
    user: UserInteractions | None = None,
) -> set[str]:
    ctx = FilterContext(INDEX, len(VOCAB), VOCAB.indices, user or UserInteractions.empty())
    mask = allowed_items(compile_filter(text, params), ctx)
    return {VOCAB.id(i) for i in np.flatnonzero(mask)}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('INCLUDE ItemID WHERE Items.categories IN ("Comedy")', {"a", "b"}),
        ('INCLUDE ItemID WHERE Items.categories = "Drama"', {"b", "c"}),
        ('INCLUDE ItemID WHERE Items.categories NOT IN ("Comedy")', {"c", "d", "e"}),
        ('EXCLUDE ItemID WHERE Items.categories IN ("Comedy")', {"c", "d", "e"}),
        ("INCLUDE ItemID WHERE Items.price < 21", {"a", "b"}),
        ("INCLUDE ItemID WHERE Items.price >= 20.5", {"b", "c"}),  # "50" is a number
        ("INCLUDE ItemID WHERE Items.price = 50", {"c"}),  # "50" meets 50
        ('INCLUDE ItemID WHERE Items.brand != "acme"', {"b", "c", "d", "e"}),
        ("INCLUDE ItemID WHERE Items.in_stock = true", {"a"}),
        ('INCLUDE ItemID WHERE Items.item_id IN ("a", "e", "zz")', {"a", "e"}),
        ('INCLUDE ItemID WHERE Items.title = "Beta"', {"b"}),
        ("INCLUDE ItemID WHERE Items.created_at > 150", {"b"}),
        ("INCLUDE ItemID WHERE Items.PRICE < 10", {"a"}),  # property names case-insensitive
        ('INCLUDE ItemID WHERE Items.categories IN ("Comedy") AND Items.price > 10', {"b"}),
        (
            'INCLUDE ItemID WHERE Items.categories IN ("Comedy") OR Items.price > 10',
            {"a", "b", "c"},
        ),
        ('INCLUDE ItemID WHERE NOT Items.categories IN ("Drama")', {"a", "d", "e"}),
        (
            'INCLUDE ItemID WHERE Items.categories IN ("Drama") | EXCLUDE ItemID WHERE Items.price > 30',
            {"b"},
        ),
    ],
)
def test_items_conditions(text: str, expected: set[str]) -> None:
    assert selected(text) == expected


def test_params_bind_per_request() -> None:
    text = "INCLUDE ItemID WHERE Items.categories IN ($G) AND Items.price < $MAX"
    assert selected(text, {"G": ["Drama"], "MAX": "30"}) == {"b"}
    assert selected(text, {"G": "Comedy", "MAX": 10}) == {"a"}


def test_interactions_conditions() -> None:
    user = interactions(("a", "purchase", 9.0), ("b", "view", None), ("e", "view", None))
    assert selected('EXCLUDE ItemID WHERE Interactions.event_type IN ("purchase")', user=user) == {
        "b",
        "c",
        "d",
        "e",
    }
    assert selected(
        'INCLUDE ItemID WHERE Interactions.event_type NOT IN ("purchase")', user=user
    ) == {"b", "e"}
    assert selected("INCLUDE ItemID WHERE Interactions.event_value > 5", user=user) == {"a"}
    assert selected(
        'INCLUDE ItemID WHERE Interactions.EVENT_TYPE = "view" AND Items.categories IN ("Comedy")',
        user=user,
    ) == {"b"}


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('INCLUDE ItemID WHERE Items.price < "cheap"', "needs a number"),
        ("INCLUDE ItemID WHERE Interactions.colour = 1", "unknown field"),
        ('INCLUDE ItemID WHERE Interactions.event_type < "x"', "takes =, != or IN"),
    ],
)
def test_semantic_errors_name_the_position(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as err:
        selected(text)
    assert err.value.field == "filter"
    assert err.value.message.startswith("position 21:") and fragment in err.value.message


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(["Comedy", "Drama", "Horror"]), min_size=1, max_size=3))
def test_include_and_exclude_partition_the_items(cats: list[str]) -> None:
    quoted = ", ".join(f'"{c}"' for c in cats)
    inc = selected(f"INCLUDE ItemID WHERE Items.categories IN ({quoted})")
    exc = selected(f"EXCLUDE ItemID WHERE Items.categories IN ({quoted})")
    assert inc.isdisjoint(exc) and inc | exc == set(VOCAB.ids())
