"""Erasure jobs on disk: the status survives a restart, the user id does not outlive the job,
and an unfinished job is resumed by one process only."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from streamrec.erasure_journal import ErasureJournal
from tests.backend_search import files_holding

USER = "journal-user-41c9"


def job(erasure_id: str, status: str = "running") -> dict[str, Any]:
    return {
        "erasure_id": erasure_id,
        "requested_at": 100.0,
        "status": status,
        "finished_at": None if status == "running" else 101.0,
        "detail": "",
        "counts": {"history_rows_deleted": 3},
    }


def test_a_finished_job_keeps_its_status_and_forgets_the_user(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path)
    journal.add(job("e1"), USER, {0: 5, 1: 7}, lease_s=60.0)
    assert files_holding(tmp_path, USER)  # in the journal (or its WAL) while the job runs
    journal.update(job("e1", "done"))
    journal.close()
    assert files_holding(tmp_path, USER) == []  # nor in the WAL or freed pages
    again = ErasureJournal(tmp_path)
    assert again.get("e1") == job("e1", "done")
    assert again.get("e2") is None
    again.close()


def test_an_unfinished_job_is_claimed_once_its_lease_ran_out(tmp_path: Path) -> None:
    journal = ErasureJournal(tmp_path)
    journal.add(job("held"), "held-user", {0: 1}, lease_s=3600.0)
    journal.add(job("stale"), USER, {0: 5, 1: 7}, lease_s=-1.0)
    claimed = journal.claim_unfinished(lease_s=60.0)
    assert [(j["erasure_id"], user, heads) for j, user, heads in claimed] == [
        ("stale", USER, {0: 5, 1: 7})
    ]
    assert journal.claim_unfinished(lease_s=60.0) == []  # leased to the first claimer now
    journal.release("stale")  # its process stopped before finishing
    assert [j["erasure_id"] for j, _, _ in journal.claim_unfinished(lease_s=60.0)] == ["stale"]
    journal.close()
