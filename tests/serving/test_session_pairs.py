"""Items of one basket: purchases of a session pair up; others, and views, do not; rows bounded."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from streamrec.consumers.erased import user_digest
from streamrec.events import Event
from streamrec.serving.session_pairs import SessionPairs
from tests.factories import make_event

T0 = 1_800_000_000.0


def buy(user: str, item: int, t: float, session: str | None = None) -> tuple[Event, int]:
    return make_event(user, str(item), "purchase", timestamp=t, session_id=session), item


def feed(pairs: SessionPairs, events: list[tuple[Event, int]]) -> None:
    pairs.update([e for e, _ in events], [i for _, i in events])


def test_purchases_of_one_session_pair_up_and_others_do_not() -> None:
    pairs = SessionPairs(["purchase"], 3_600.0, by_session=True)
    feed(pairs, [buy("u", 0, T0, "s1"), buy("u", 1, T0 + 1, "s1"), buy("u", 2, T0 + 2, "s1")])
    feed(pairs, [buy("u", 3, T0 + 3, "s2"), buy("v", 4, T0 + 4)])
    feed(pairs, [(make_event("u", "5", "view", timestamp=T0 + 5, session_id="s1"), 5)])
    assert pairs.partners(0) == {1: 1.0, 2: 1.0}
    assert pairs.partners(2) == {0: 1.0, 1: 1.0}
    assert pairs.partners(3) == {} and pairs.partners(4) == {} and pairs.partners(5) == {}


def test_purchases_further_apart_than_the_gap_do_not_pair() -> None:
    pairs = SessionPairs(["purchase"], 3_600.0, by_session=True)
    feed(pairs, [buy("u", 0, T0), buy("u", 1, T0 + 7_200)])
    assert pairs.partners(0) == {}


def test_without_a_session_the_user_is_the_group() -> None:
    pairs = SessionPairs(["purchase"], 3_600.0, by_session=True)
    feed(pairs, [buy("u", 0, T0), buy("u", 1, T0 + 60), buy("v", 2, T0 + 70)])
    assert pairs.partners(1) == {0: 1.0}


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.tuples(st.sampled_from("uvw"), st.integers(0, 30)), max_size=300),
    st.integers(1, 5),
    st.integers(1, 4),
)
def test_rows_groups_and_recent_items_stay_bounded(
    events: list[tuple[str, int]], cap: int, recent: int
) -> None:
    pairs = SessionPairs(
        ["purchase"], 3_600.0, False, max_neighbours=cap, max_recent=recent, max_groups=2
    )
    feed(pairs, [buy(u, i, T0 + k) for k, (u, i) in enumerate(events)])
    for item in range(31):
        row = pairs.partners(item)
        assert len(row) <= 2 * cap and item not in row
    arrays = pairs.arrays()
    assert arrays["groups_len"].size <= 2 and arrays["recent_len"].max(initial=0) <= recent


def test_a_snapshot_restores_pairs_and_groups() -> None:
    pairs = SessionPairs(["purchase"], 3_600.0, by_session=True)
    feed(pairs, [buy("u", 0, T0, "s"), buy("u", 1, T0 + 1, "s")])
    again = SessionPairs(["purchase"], 3_600.0, by_session=True)
    again.restore(pairs.arrays(), np.arange(5))
    assert again.partners(0) == {1: 1.0}
    feed(again, [buy("u", 2, T0 + 2, "s")])  # the session's earlier items were restored
    assert again.partners(2) == {0: 1.0, 1: 1.0}


def test_an_erased_user_leaves_no_group_behind_in_the_snapshot() -> None:
    pairs = SessionPairs(["purchase"], 3_600.0, by_session=True)
    feed(pairs, [buy("erased-user", 0, T0, "s1"), buy("erased-user", 1, T0 + 1)])
    feed(pairs, [buy("kept-user", 2, T0 + 2, "s9")])
    assert pairs.forget_users({user_digest("erased-user")}) == 2
    blob = pairs.arrays()["groups_blob"].tobytes()
    assert b"erased-user" not in blob and b"s1" not in blob and b"kept-user" in blob
    feed(pairs, [buy("erased-user", 3, T0 + 3, "s1")])
    assert pairs.partners(3) == {}  # the next purchase starts a new basket
