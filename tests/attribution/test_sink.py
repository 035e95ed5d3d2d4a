"""The attribution group's rules on stream records, through each store backend (SQLite and
PostgreSQL: tests/attribution/conftest.py): the store's contract suite."""

from __future__ import annotations

import threading

import msgspec
import pytest

from streamrec.attribution.records import Served, served_event, served_of
from streamrec.attribution.report import attribution_report
from streamrec.attribution.sink import AttributionRules, AttributionSink
from streamrec.attribution.store import AttributionStore
from streamrec.events import Event
from streamrec.stream.base import StreamRecord
from tests.attribution.conftest import StoreOpener
from tests.factories import make_event

T0 = 1_699_999_200.0  # a whole quarter hour
TYPES = ("click", "add_to_cart", "purchase")


def served(
    rec_id: str,
    items: list[str],
    user: str = "u1",
    campaign: str = "default",
    session: str | None = None,
    variant: tuple[str, str] | None = None,
) -> Served:
    experiment, name = variant or (None, None)
    return Served(
        rec_id,
        "recommendations",
        campaign,
        user,
        session,
        items,
        0.0,
        "v1",
        "knn",
        experiment,
        name,
    )


def rec(served_: Served, at: float) -> Event:
    return served_event(served_, now=at)


def conversion(
    user: str,
    item: str,
    kind: str,
    at: float,
    rec_id: str | None = None,
    value: float | None = None,
    event_id: str | None = None,
    session: str | None = None,
) -> Event:
    event = make_event(user, item, kind, received_at=at, event_id=event_id, session_id=session)
    return msgspec.structs.replace(event, recommendation_id=rec_id, event_value=value)


class Stream:
    """Records on one shard, numbered as the stream would."""

    def __init__(self) -> None:
        self.records: list[StreamRecord] = []

    def add(self, *events: Event) -> list[StreamRecord]:
        new = [StreamRecord(0, len(self.records) + i, e) for i, e in enumerate(events)]
        self.records += new
        return new


def sink_for(store: AttributionStore, window_s: float = 3600.0) -> AttributionSink:
    return AttributionSink(store, AttributionRules(window_s, TYPES))


def totals(store: AttributionStore, campaign: str = "default") -> dict[str, float]:
    return {m: v for c, m, v in store.totals() if c == campaign}


def test_recommendation_record_round_trips() -> None:
    original = Served("r1", "rank", "c", "u", "s", ["a", "b"], 0.0, "v9", "ease", "exp", "B")
    back = served_of(served_event(original, now=T0))
    assert back == Served("r1", "rank", "c", "u", "s", ["a", "b"], T0, "v9", "ease", "exp", "B")


def test_served_items_and_conversions_are_counted(store: AttributionStore) -> None:
    stream, sink = Stream(), sink_for(store)
    stream.add(rec(served("r1", ["a", "b", "c"]), T0))
    stream.add(
        conversion("u1", "a", "click", T0 + 5, rec_id="r1"),
        conversion("u1", "b", "purchase", T0 + 10, value=20.0),  # no id: by user and item
        conversion("u1", "b", "view", T0 + 11),  # not a conversion type
        conversion("u2", "a", "click", T0 + 12),  # another user: nothing shown to them
        conversion("u1", "z", "add_to_cart", T0 + 13),  # an item never shown
    )
    sink.write(stream.records)
    assert totals(store) == {
        "recommendations": 1,
        "items_shown": 3,
        "conversion:click": 1,
        "conversion:purchase": 1,
        "revenue": 20.0,
    }


def test_last_recommendation_wins_and_window_applies(store: AttributionStore) -> None:
    stream, sink = Stream(), sink_for(store, window_s=600)
    stream.add(rec(served("r1", ["a"], campaign="old"), T0))
    stream.add(rec(served("r2", ["a"], campaign="new"), T0 + 60))
    stream.add(conversion("u1", "a", "click", T0 + 120))
    stream.add(conversion("u1", "a", "click", T0 + 60 + 601))  # past the window
    stream.add(conversion("u9", "x", "click", T0 + 130, rec_id="r1"))  # by id: anyone's click
    sink.write(stream.records)
    assert totals(store, "new")["conversion:click"] == 1
    assert totals(store, "old")["conversion:click"] == 1


def test_sessions_attribute_like_users(store: AttributionStore) -> None:
    stream, sink = Stream(), sink_for(store)
    stream.add(rec(served("r1", ["a"], user="", session="s1"), T0))
    stream.add(conversion("anon-7", "a", "click", T0 + 1, session="s1"))
    sink.write(stream.records)
    assert totals(store)["conversion:click"] == 1


def test_replay_and_retries_count_once(store: AttributionStore, open_store: StoreOpener) -> None:
    stream = Stream()
    stream.add(rec(served("r1", ["a", "b"]), T0))
    stream.add(conversion("u1", "a", "purchase", T0 + 1, value=5.0, event_id="e1"))
    stream.add(conversion("u1", "a", "purchase", T0 + 2, value=5.0, event_id="e1"))  # retry
    sink = sink_for(store)
    sink.write(stream.records[:2])
    sink.write(stream.records)  # redelivered after a crash before the commit
    store.close()
    reopened = open_store()
    sink_for(reopened).write(stream.records)  # a replay from offset 0 after a restart
    assert totals(reopened) == {
        "recommendations": 1,
        "items_shown": 2,
        "conversion:purchase": 1,
        "revenue": 5.0,
    }


def test_report_sums_minutes_into_intervals(store: AttributionStore) -> None:
    stream, sink = Stream(), sink_for(store)
    stream.add(rec(served("r1", ["a", "b"]), T0))
    stream.add(rec(served("r2", ["c"], campaign="new"), T0 + 120))
    stream.add(conversion("u1", "c", "click", T0 + 200))
    stream.add(rec(served("r3", ["d"]), T0 + 3600))
    sink.write(stream.records)
    rows = attribution_report(store, T0 - 3600, T0 + 7200, 900, None, TYPES)
    got = [(r.start, r.campaign, r.recommendations, r.items_shown, r.clicks) for r in rows]
    quarter = T0 // 900 * 900
    assert got == [
        (quarter, "default", 1, 2, 0),
        (quarter, "new", 1, 1, 1),
        (quarter + 3600, "default", 1, 1, 0),
    ]
    assert rows[1].ctr == 1.0 and rows[0].ctr == 0.0
    assert rows[1].conversions == {"click": 1, "add_to_cart": 0, "purchase": 0}
    only_new = attribution_report(store, T0 - 3600, T0 + 7200, 86400, "new", TYPES)
    assert [(r.campaign, r.recommendations) for r in only_new] == [("new", 1)]


def test_erasure_forgets_what_a_user_was_shown(store: AttributionStore) -> None:
    from streamrec.consumers.erased import user_digest
    from streamrec.stores.base import ErasureMark

    stream, sink = Stream(), sink_for(store)
    sink.write(stream.add(rec(served("r1", ["a"]), T0)))
    sink.erased([ErasureMark(1, 0, 1, user_digest("u1"), T0)])
    sink.write(stream.add(conversion("u1", "a", "click", T0 + 1)))
    assert "conversion:click" not in totals(store)


def test_purge_keeps_the_window(store: AttributionStore) -> None:
    stream, sink = Stream(), sink_for(store, window_s=60)
    sink.write(stream.add(rec(served("r1", ["a"]), T0)))
    sink.write(stream.add(rec(served("r2", ["b"]), T0 + 10_000)))
    assert store.purge(T0 + 10_000 - 60) >= 2  # r1 and its showing
    sink.write(stream.add(conversion("u1", "b", "click", T0 + 10_001)))
    assert totals(store)["conversion:click"] == 1


def test_parked_conversions_go_even_when_nothing_was_ever_served(
    store: AttributionStore,
) -> None:
    """An import of clicks with recording off parks every click; the stream's own clock (the
    newest record written) purges them, not only the newest recommendation's."""
    stream, sink = Stream(), sink_for(store, window_s=60)
    sink.write(stream.add(conversion("u1", "a", "click", T0 + 1, rec_id="r1")))
    sink.write(stream.add(conversion("u2", "b", "click", T0 + 2 * 3600 + 600)))
    sink.checkpoint(T0)
    sink.write(stream.add(rec(served("r1", ["a"]), T0)))  # too late: the click is gone
    assert "conversion:click" not in totals(store)


def test_a_conversion_ahead_of_its_record_waits_for_it(store: AttributionStore) -> None:
    """Records are written in batches (and by other processes): a click may come first."""
    stream, sink = Stream(), sink_for(store)
    sink.write(stream.add(conversion("u1", "a", "click", T0 + 1, rec_id="r1")))
    sink.write(stream.add(conversion("u1", "b", "purchase", T0 + 2, value=3.0)))  # no id
    sink.write(stream.add(conversion("u1", "z", "click", T0 + 2)))  # never shown
    assert "conversion:click" not in totals(store)
    sink.write(stream.add(rec(served("r1", ["a", "b"], campaign="c"), T0)))
    assert totals(store, "c") == {
        "recommendations": 1,
        "items_shown": 2,
        "conversion:click": 1,
        "conversion:purchase": 1,
        "revenue": 3.0,
    }
    sink.write(stream.add(rec(served("r2", ["a", "b", "z"], campaign="c"), T0 + 3)))
    assert totals(store, "c")["conversion:click"] == 1  # taken once; z came before r2 was served


def test_an_unknown_id_is_not_credited_to_an_older_recommendation(
    store: AttributionStore,
) -> None:
    stream, sink = Stream(), sink_for(store)
    stream.add(rec(served("r1", ["a"], campaign="old"), T0))
    stream.add(conversion("u1", "a", "click", T0 + 5, rec_id="r2"))
    stream.add(rec(served("r2", ["a"], campaign="new"), T0 + 4))
    sink.write(stream.records)
    assert totals(store, "new")["conversion:click"] == 1
    assert "conversion:click" not in totals(store, "old")


def test_two_consumers_of_one_shard_count_it_once(open_store: StoreOpener) -> None:
    """During a rebalance two consumers may both apply a shard's batch: the second waits for the
    first's transaction and skips what it stored."""
    stream = Stream()
    stream.add(rec(served("r1", ["a", "b"]), T0))
    stream.add(*(conversion("u1", "a", "click", T0 + k, event_id=f"c{k}") for k in range(1, 6)))
    sinks = [sink_for(open_store()), sink_for(open_store())]
    start = threading.Barrier(2)
    failures: list[BaseException] = []

    def consume(sink: AttributionSink) -> None:
        start.wait()
        try:
            sink.write(stream.records)
        except BaseException as exc:  # reported below, not lost in the thread
            failures.append(exc)

    threads = [threading.Thread(target=consume, args=(sink,)) for sink in sinks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert failures == []
    reader = open_store()
    assert totals(reader) == {"recommendations": 1, "items_shown": 2, "conversion:click": 5}
    assert reader.positions() == {0: 6}


def test_a_failed_batch_leaves_no_figure_and_no_position(store: AttributionStore) -> None:
    stream = Stream()
    stream.add(rec(served("r1", ["a"]), T0), conversion("u1", "a", "click", T0 + 1))
    rules = AttributionRules(3600.0, TYPES)
    with pytest.raises(RuntimeError), store.batch({0: 2}) as tx:
        for record in tx.fresh(stream.records, T0 + 3600):
            rules.apply(tx, record.event)
        raise RuntimeError("the consumer died mid-batch")
    assert store.totals() == [] and store.positions() == {}
    sink_for(store).write(stream.records)  # delivered again: counted now, once
    assert totals(store) == {"recommendations": 1, "items_shown": 1, "conversion:click": 1}


def test_experiment_figures_per_user_and_their_erasure(store: AttributionStore) -> None:
    from streamrec.consumers.erased import user_digest
    from streamrec.stores.base import ErasureMark

    stream, sink = Stream(), sink_for(store)
    stream.add(rec(served("r1", ["a"], user="u1", variant=("ab", "control")), T0))
    stream.add(rec(served("r2", ["a"], user="u2", variant=("ab", "new")), T0))
    stream.add(conversion("u2", "a", "purchase", T0 + 1, rec_id="r2", value=7.5))
    sink.write(stream.records)
    rows = sorted(store.per_user("ab"))
    assert rows == sorted(
        [
            ("control", user_digest("u1"), "recommendations", 1.0),
            ("new", user_digest("u2"), "recommendations", 1.0),
            ("new", user_digest("u2"), "conversion:purchase", 1.0),
            ("new", user_digest("u2"), "revenue", 7.5),
        ]
    )
    assert store.per_user("other") == []
    sink.erased([ErasureMark(1, 0, 3, user_digest("u2"), T0)])
    assert [row[1] for row in store.per_user("ab")] == [user_digest("u1")]
