from __future__ import annotations

import numpy as np

from streamrec.synthetic import (
    EVENT_TYPES,
    generate_catalogue,
    generate_interactions,
    item_structure,
)


def test_same_seed_same_data_other_seed_other_data() -> None:
    a = generate_interactions(50, 80, 2_000, seed=1)
    assert a.equals(generate_interactions(50, 80, 2_000, seed=1))
    assert not a.equals(generate_interactions(50, 80, 2_000, seed=2))


def test_columns_sizes_and_order() -> None:
    t = generate_interactions(100, 500, 10_000, seed=3)
    assert t.column_names == [
        "user_id", "item_id", "timestamp", "event_type", "event_value", "session_id"
    ]  # fmt: skip
    assert len(t) == 10_000
    ts = t.column("timestamp").to_numpy()
    assert np.all(np.diff(ts) >= 0)
    assert set(t.column("event_type").to_pylist()) == set(EVENT_TYPES)
    assert len(set(t.column("user_id").to_pylist())) == 100
    items = {int(s.split("-")[1]) for s in t.column("item_id").to_pylist()}
    assert max(items) < 500


def test_planted_sequence_and_taste_structure() -> None:
    t = generate_interactions(200, 300, 20_000, seed=4, follow_prob=0.5)
    st = item_structure(300, seed=4)
    sessions = t.column("session_id").to_numpy(zero_copy_only=False)
    items = np.array([int(s.split("-")[1]) for s in t.column("item_id").to_pylist()])
    order = np.lexsort((t.column("timestamp").to_numpy(), sessions))
    s, it = sessions[order], items[order]
    same = s[1:] == s[:-1]
    followed = st.successor(it[:-1][same]) == it[1:][same]
    assert 0.4 < followed.mean() < 0.7  # follow_prob plus chance draws of the successor
    users = np.array(t.column("user_id").to_pylist())
    shares = [
        np.bincount(st.category[items[users == u]]).max() / (users == u).sum()
        for u in np.unique(users)
    ]
    assert np.mean(shares) > 0.4  # users stick to a few of the 20 categories


def test_catalogue_matches_interaction_categories() -> None:
    cat = generate_catalogue(1_000, seed=5)
    assert len(cat) == 1_000
    assert cat.column("item_id").to_pylist()[:2] == ["item-0", "item-1"]
    titles = cat.column("title").to_pylist()
    assert all(isinstance(x, str) and len(x.split()) >= 3 for x in titles)
    codes = item_structure(1_000, seed=5).category
    names = cat.column("category").to_pylist()
    assert len({(c, n) for c, n in zip(codes, names, strict=True)}) == len(set(codes.tolist()))
    assert cat.column("categories").to_pylist()[0] == [names[0]]


def test_a_million_events_are_generated() -> None:
    """How long it takes is measured in benchmarks/registry.py (synthetic section)."""
    t = generate_interactions(20_000, 100_000, 1_000_000, seed=0)
    assert len(t) == 1_000_000
