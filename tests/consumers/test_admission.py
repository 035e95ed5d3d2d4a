"""Junk item ids from the stream stay out of the serving item space; real new items get in."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec.consumers.admission import ItemAdmission
from streamrec.runtime import Runtime
from streamrec.serving.space import ItemSpace
from streamrec.stream.base import StreamRecord
from tests.conftest import AUTH, drain
from tests.factories import make_event


def records(*pairs: tuple[str, str]) -> list[StreamRecord]:
    return [StreamRecord(0, k, make_event(user, item)) for k, (user, item) in enumerate(pairs)]


def test_a_new_item_is_admitted_once_enough_users_sent_events_about_it() -> None:
    space = ItemSpace()
    space.add(["known"])
    admission = ItemAdmission(space, min_users=2)
    assert len(admission.admit(records(("u1", "known")))) == 1
    assert admission.admit(records(("u1", "new"), ("u1", "new"))) == []  # one user, twice
    passed = admission.admit(records(("u2", "new"), ("u3", "new")))
    # Admitted with the second user: the records held until then are counted too.
    assert [r.event.user_id for r in passed] == ["u1", "u1", "u2", "u3"]


def test_ids_waiting_for_admission_are_bounded() -> None:
    admission = ItemAdmission(ItemSpace(), min_users=2, max_pending=100)
    admission.admit(records(*((f"u{k}", f"junk{k}") for k in range(5000))))
    assert admission.pending == 100


def test_junk_item_ids_posted_with_the_tracking_id_do_not_grow_the_item_space(
    client: TestClient, runtime: Runtime
) -> None:
    space = runtime.recommendations.space
    before = len(space)
    for start in range(0, 2000, 500):
        junk = [{"user_id": "attacker", "item_id": f"junk-{k}"} for k in range(start, start + 500)]
        assert client.post("/v1/events", json={"events": junk}, headers=AUTH).status_code == 202
    drain(runtime, "realtime")
    assert len(space) == before
    real = [{"user_id": f"u{k}", "item_id": "new-item"} for k in range(3)]
    assert client.post("/v1/events", json={"events": real}, headers=AUTH).status_code == 202
    drain(runtime, "realtime")
    assert len(space) == before + 1
    popular = client.get("/v1/popular", params={"n": 5}).json()["items"]
    assert [i["item_id"] for i in popular] == ["new-item"]
