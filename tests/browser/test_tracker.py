"""tracker.js in a real browser: batching, beacon on page hide, retries, identity, and CORS."""

from __future__ import annotations

import time
from typing import Any

import pytest
from playwright.sync_api import Page, Request, Route

from tests.browser.conftest import Poll, Shop
from tests.browser.server import Served

pytestmark = pytest.mark.browser


class Posts:
    """Every POST the page makes to /v1/events, with its time and number of events."""

    def __init__(self, page: Page) -> None:
        self.seen: list[tuple[float, int, str]] = []
        # On the context, not the page: a beacon sent during navigation belongs to no page.
        page.context.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if request.method == "POST" and "/v1/events" in request.url:
            body: Any = request.post_data_json  # None for a beacon's Blob body
            count = len(body["events"]) if body else -1
            self.seen.append((time.monotonic(), count, request.resource_type))

    def sizes(self) -> list[int]:
        return [n for _, n, _ in self.seen]


def open_shop(page: Page, shop: Shop, **config: int) -> None:
    page.goto(shop.page_url(**config))
    page.wait_for_function("() => window.streamrec && window.streamrec.version")


def track(page: Page, n: int, item: str = "item-1", event_type: str = "view") -> None:
    page.evaluate(
        "([n, item, type]) => { for (let i = 0; i < n; i++) streamrec.track(type, item + '-' + i) }",
        [n, item, event_type],
    )


def user_of(page: Page) -> str:
    return str(page.evaluate("() => streamrec.userId()"))


def test_events_wait_for_the_flush_interval_then_go_in_one_batch(
    page: Page, allowed_shop: Shop, served: Served, eventually: Poll
) -> None:
    open_shop(page, allowed_shop)
    posts = Posts(page)
    started = time.monotonic()
    track(page, 3, "interval")
    page.wait_for_timeout(500)
    assert posts.sizes() == []  # nothing sent before the flush interval
    eventually(lambda: posts.sizes() == [3], 3.0)
    assert 0.9 <= posts.seen[0][0] - started <= 2.0
    user = user_of(page)
    eventually(lambda: len(served.history_ids(user)) == 3)


def test_twenty_events_are_sent_at_once(
    page: Page, allowed_shop: Shop, served: Served, eventually: Poll
) -> None:
    open_shop(page, allowed_shop, flush_ms=60_000)  # only the batch size can trigger a send
    posts = Posts(page)
    started = time.monotonic()
    track(page, 45, "size")
    # The 20th event sends at once; the 25 queued meanwhile go together when that send returns.
    eventually(lambda: sum(posts.sizes()) == 45, 3.0)
    assert posts.sizes() == [20, 25]
    assert posts.seen[-1][0] - started < 0.9
    user = user_of(page)
    eventually(lambda: len(served.history_ids(user, 100)) == 45)
    track(page, 19, "below")
    page.wait_for_timeout(500)
    assert posts.sizes() == [20, 25]  # 19 events wait for the (here one minute) flush interval


def test_page_hide_sends_the_queue_with_a_beacon(
    page: Page, allowed_shop: Shop, served: Served, eventually: Poll
) -> None:
    open_shop(page, allowed_shop, flush_ms=60_000)
    posts = Posts(page)
    track(page, 3, "beacon", "click")
    user = user_of(page)
    assert posts.sizes() == []
    page.goto("about:blank")  # pagehide: the tracker hands the queue to navigator.sendBeacon
    eventually(lambda: len(served.history_ids(user)) == 3)
    rows = served.get(f"/v1/users/{user}/history?limit=10")["items"]
    assert {r["event_type"] for r in rows} == {"click"}


def test_the_page_hide_send_is_a_beacon(
    page: Page, allowed_shop: Shop, served: Served, eventually: Poll
) -> None:
    """Playwright does not report requests of a page being left, so hide it without leaving."""
    open_shop(page, allowed_shop, flush_ms=60_000)
    posts = Posts(page)
    track(page, 2, "hidden")
    page.evaluate("() => window.dispatchEvent(new PageTransitionEvent('pagehide'))")
    eventually(lambda: len(posts.seen) == 1, 3.0)
    assert posts.seen[0][2] == "ping"  # navigator.sendBeacon, not fetch
    assert page.evaluate("() => streamrec.stats()")["beacons"] == 1
    user = user_of(page)
    eventually(lambda: len(served.history_ids(user)) == 2)


def test_a_failed_send_is_retried(
    page: Page, allowed_shop: Shop, served: Served, eventually: Poll
) -> None:
    failures = {"left": 2}

    def flaky(route: Route) -> None:
        if route.request.method == "POST" and failures["left"] > 0:
            failures["left"] -= 1
            route.fulfill(status=503, body='{"error": "overloaded"}')
        else:
            route.continue_()

    page.route("**/v1/events*", flaky)
    open_shop(page, allowed_shop, flush_ms=200)
    track(page, 4, "retry")
    user = user_of(page)
    eventually(lambda: len(served.history_ids(user)) == 4, 10.0)
    stats = page.evaluate("() => streamrec.stats()")
    assert stats["failures"] == 2 and stats["sent"] == 4 and stats["queued"] == 0


def test_identity_is_kept_in_first_party_storage(page: Page, allowed_shop: Shop) -> None:
    open_shop(page, allowed_shop)
    anonymous = user_of(page)
    assert anonymous.startswith("anon-")
    page.reload()
    page.wait_for_function("() => window.streamrec && window.streamrec.version")
    assert user_of(page) == anonymous  # survives a reload
    page.evaluate("() => streamrec.identify('customer-42')")
    event: Any = None

    def capture(request: Request) -> None:
        nonlocal event
        if request.method == "POST" and "/v1/events" in request.url:
            event = request.post_data_json["events"][0]

    page.on("request", capture)
    page.evaluate("() => streamrec.track('view', 'item-5')")
    page.evaluate("() => streamrec.flush()")
    assert event is not None
    assert event["user_id"] == "customer-42" and event["session_id"] == anonymous


def test_a_site_not_in_allowed_origins_cannot_post_events(
    page: Page, foreign_shop: Shop, served: Served
) -> None:
    open_shop(page, foreign_shop)
    track(page, 3, "foreign")
    page.evaluate("() => streamrec.flush()")
    user = user_of(page)
    assert page.evaluate("() => streamrec.stats().failures") >= 1  # the preflight was refused
    page.wait_for_timeout(500)
    assert served.history_ids(user) == []


def test_a_beacon_from_a_site_not_in_allowed_origins_is_refused(
    page: Page, foreign_shop: Shop, served: Served
) -> None:
    """A beacon is a 'simple' request (no preflight), so the server itself must check Origin."""
    open_shop(page, foreign_shop, flush_ms=60_000)
    track(page, 2, "foreign-beacon")
    user = user_of(page)
    page.goto("about:blank")
    page.wait_for_timeout(1500)
    assert served.history_ids(user) == []
