"""The demo shop in a real browser: clicks become events, and the widgets follow them."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Poll
from tests.browser.server import Served

pytestmark = pytest.mark.browser

RECOMMENDED = "#widget-recommended [data-item-id]"


def ids(page: Page, selector: str) -> list[str]:
    return list(page.eval_on_selector_all(selector, "els => els.map(e => e.dataset.itemId)"))


def renders(page: Page, widget: str) -> int:
    value = page.get_attribute(f"[data-widget='{widget}']", "data-renders")
    return int(value or 0)


def wait_rendered(page: Page, widget: str, more_than: int = 0) -> None:
    page.wait_for_function(
        "([w, n]) => Number(document.querySelector(`[data-widget='${w}']`)"
        "?.getAttribute('data-renders') || 0) > n",
        arg=[widget, more_than],
    )


def open_demo(page: Page, served: Served) -> str:
    page.goto(served.url + "/demo")
    wait_rendered(page, "popular")
    wait_rendered(page, "recommended")
    return str(page.evaluate("() => streamrec.userId()"))


def test_a_first_time_visitor_sees_popular_items(page: Page, served: Served) -> None:
    open_demo(page, served)
    grid = ids(page, "#grid-popular [data-item-id]")
    popular = [it["item_id"] for it in served.get("/v1/popular?n=24")["items"]]
    assert len(grid) == 24 and grid == popular
    assert page.locator("#grid-popular .card .title").first.inner_text().strip()
    assert len(ids(page, RECOMMENDED)) == 8  # cold start: popular, not an empty box
    assert "Items you look at appear here" in page.inner_text("#widget-recent")


def history_types(served: Served, user: str) -> set[str]:
    return {r["event_type"] for r in served.get(f"/v1/users/{user}/history?limit=20")["items"]}


def test_clicking_items_records_events_and_changes_recommendations(
    page: Page, served: Served, eventually: Poll
) -> None:
    user = open_demo(page, served)
    before = ids(page, RECOMMENDED)
    url_before = page.url
    clicked: list[str] = []
    # A visitor browsing one corner of the shop: a grid item, then items similar to it.
    page.locator("#grid-popular .card").nth(5).click()
    for _ in range(3):
        page.wait_for_selector("#widget-similar [data-item-id]")
        clicked.append(page.get_attribute(".detail", "data-item-id") or "")
        page.locator("#widget-similar .card").first.click()
    clicked.append(page.get_attribute(".detail", "data-item-id") or "")
    page.click("button[data-action='add_to_cart']")

    assert page.url != url_before and "/demo/item/" in page.url  # navigated, never reloaded
    assert page.evaluate("() => performance.getEntriesByType('navigation').length") == 1
    eventually(lambda: set(clicked) <= set(served.history_ids(user)))
    # The add-to-cart is a later event than the views: the history consumer (a process of its
    # own under `serve`) may apply it a moment after them.
    eventually(lambda: history_types(served, user) >= {"view", "add_to_cart"})
    eventually(lambda: ids(page, RECOMMENDED) != before and len(ids(page, RECOMMENDED)) > 0)
    eventually(lambda: ids(page, "#widget-recent [data-item-id]")[:1] == [clicked[-1]])
    # each personal item says which of the shopper's own events it comes from, by title
    titles = {served.get(f"/v1/items/{i}").get("title") or i for i in clicked}
    reasons = page.locator("#widget-recommended .why").all_text_contents()
    assert reasons and all(r.startswith(("Because you ", "You ")) for r in reasons), reasons
    named = [r.split(" ", 3)[-1] for r in reasons if r.startswith("Because you viewed ")]
    assert named and set(named) <= titles, (named, titles)


def test_clicks_from_a_widget_carry_its_recommendation_id(page: Page, served: Served) -> None:
    open_demo(page, served)
    rec_id = page.get_attribute("#widget-recommended", "data-recommendation-id")
    assert rec_id
    shown = ids(page, RECOMMENDED)
    with page.expect_request(lambda r: r.method == "POST" and "/v1/events" in r.url) as info:
        page.locator("#widget-recommended .card").first.click()
    event = info.value.post_data_json["events"][0]
    assert event["item_id"] == shown[0] and event["event_type"] == "view"
    assert event["recommendation_id"] == rec_id
    assert event["impression"] == shown


def test_item_pages_are_deep_links(page: Page, served: Served) -> None:
    page.goto(served.url + "/demo/item/item-3")
    page.wait_for_selector(".detail h1")
    title = served.get("/v1/items/item-3")["title"]
    assert page.inner_text(".detail h1") == title
    page.goto(served.url + "/demo/item/no-such-item")
    page.wait_for_selector(".detail .empty")
    assert "No such item" in page.inner_text(".detail")


def test_signing_in_switches_the_user(page: Page, served: Served, eventually: Poll) -> None:
    open_demo(page, served)
    page.fill("#signin-id", "demo-customer-1")
    page.click("#signin button[type=submit]")
    assert page.inner_text("#user-id") == "demo-customer-1"
    page.locator("#grid-popular .card").first.click()
    eventually(lambda: len(served.history_ids("demo-customer-1")) == 1)


def test_items_without_a_catalogue_entry_are_shown_by_id(
    page: Page, served: Served, eventually: Poll
) -> None:
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    served.post_events([{"user_id": "importer", "item_id": "uncatalogued-7"}])
    served.wait_caught_up()
    page.goto(served.url + "/demo/item/uncatalogued-7")
    page.wait_for_selector(".detail h1")
    assert page.inner_text(".detail h1") == "uncatalogued-7"
    assert "not in the catalogue" in page.inner_text(".detail")
    user = str(page.evaluate("() => streamrec.userId()"))
    eventually(lambda: "uncatalogued-7" in served.history_ids(user))
    eventually(lambda: "uncatalogued-7" in ids(page, "#widget-recent [data-item-id]"))
    card = page.locator("#widget-recent .card[data-item-id='uncatalogued-7']")
    assert card.locator(".title").inner_text() == "uncatalogued-7"
    assert errors == []  # no 404 per item: one lookup for all


def test_pictures_are_inline_svg_not_emoji(page: Page, served: Served) -> None:
    open_demo(page, served)
    text = page.inner_text("body")
    assert not re.search("[\U0001f300-\U0001faff\u2600-\u27bf]", text), "emoji need a font"
    cards = page.locator("#grid-popular .card")
    assert cards.count() == cards.locator(".swatch svg").count() > 0


def recommended_ids(served: Served, user: str) -> list[str]:
    """The server's recommendations for the user alone (no session: only what the user did)."""
    return [it["item_id"] for it in served.get(f"/v1/recommendations/{user}?n=8")["items"]]


def test_signing_in_after_browsing_keeps_the_anonymous_clicks(
    page: Page, served: Served, eventually: Poll
) -> None:
    """identify() ties the anonymous visitor to the user (POST /v1/users/ID/aliases): the user's
    history and recommendations follow the clicks made before signing in."""
    anonymous = open_demo(page, served)
    clicked: list[str] = []
    page.locator("#grid-popular .card").nth(9).click()
    for _ in range(2):
        page.wait_for_selector("#widget-similar [data-item-id]")
        clicked.append(page.get_attribute(".detail", "data-item-id") or "")
        page.locator("#widget-similar .card").nth(1).click()
    clicked.append(page.get_attribute(".detail", "data-item-id") or "")
    eventually(lambda: set(clicked) <= set(served.history_ids(anonymous)))
    served.wait_caught_up()
    browsed = recommended_ids(served, anonymous)
    assert browsed != recommended_ids(served, "never-seen-visitor")  # they follow the clicks
    user = "alias-customer-" + anonymous[-8:]
    page.fill("#signin-id", user)
    page.click("#signin button[type=submit]")
    eventually(lambda: page.inner_text("#user-id") == user)
    eventually(lambda: set(clicked) <= set(served.history_ids(user)))
    assert served.history_ids(anonymous) == []
    eventually(lambda: set(clicked) <= set(ids(page, "#widget-recent [data-item-id]")))
    served.wait_caught_up()
    # the same events as the anonymous visitor had (trending moves with the clock: as a set)
    eventually(lambda: set(recommended_ids(served, user)) == set(browsed))
    eventually(lambda: set(ids(page, RECOMMENDED)) == set(recommended_ids(served, user)))
