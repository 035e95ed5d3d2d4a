"""Training reads an aliased anonymous id's lake rows as its user's (streamrec.aliases), as the
stores hold them after applying the stream in order; the alias rows themselves are no
interactions."""

from __future__ import annotations

from streamrec.aliases import alias_event
from streamrec.lake import LakeReader, LakeWriter
from streamrec.stream.base import StreamRecord
from tests.factories import make_event

DAY0 = 1_704_067_200.0


def test_anonymous_rows_are_read_as_the_users(lake_dir: str) -> None:
    t = DAY0 + 3600.0
    shard0 = [
        make_event("anon", "a", received_at=t),
        alias_event("anon", "alice", t + 1),
        make_event("anon", "b", received_at=t + 2),
        alias_event("anon", "bob", t + 3),  # the device signs in as someone else
        make_event("anon", "c", received_at=t + 4),
    ]
    shard1 = [make_event("alice", "d", received_at=t + 5), make_event("carol", "e", received_at=t)]
    batch = [StreamRecord(0, i, e) for i, e in enumerate(shard0)]
    batch += [StreamRecord(1, i, e) for i, e in enumerate(shard1)]
    writer = LakeWriter(lake_dir, 1 << 40, 3600.0)
    writer.add(batch)
    writer.close()
    table = LakeReader(lake_dir).read_interactions(DAY0, DAY0 + 86_400)
    users, items = table.column("user_id").to_pylist(), table.column("item_id").to_pylist()
    rows = sorted(zip(users, items, strict=True))
    assert rows == [("alice", "a"), ("alice", "b"), ("alice", "d"), ("bob", "c"), ("carol", "e")]
