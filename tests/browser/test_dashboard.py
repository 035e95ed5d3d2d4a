"""The operator dashboard in a real browser: refuses without the admin key, renders with it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page

from tests.browser.conftest import Poll
from tests.browser.server import ADMIN_KEY, Served

pytestmark = pytest.mark.browser


def use_key(page: Page, key: str) -> None:
    page.fill("#key-input", key)
    page.click("#key-form button[type=submit]")


def data_statuses(page: Page) -> list[int]:
    statuses: list[int] = []
    page.on(
        "response",
        lambda r: statuses.append(r.status) if "/v1/admin/" in r.url else None,
    )
    return statuses


def test_without_a_key_it_asks_for_one_and_fetches_nothing(page: Page, served: Served) -> None:
    statuses = data_statuses(page)
    page.goto(served.url + "/dashboard")
    page.wait_for_selector("#locked[data-state='required']")
    assert page.inner_text("#locked-title") == "Admin key required"
    assert page.is_hidden("#board")
    assert statuses == []


def test_a_wrong_key_is_refused(page: Page, served: Served) -> None:
    statuses = data_statuses(page)
    page.goto(served.url + "/dashboard")
    use_key(page, "not-the-key")
    page.wait_for_selector("#locked[data-state='wrong']")
    assert page.inner_text("#locked-title") == "Wrong admin key"
    assert page.is_hidden("#board")
    assert statuses and set(statuses) == {403}


def test_with_the_key_it_renders_charts_tables_and_lookups(
    page: Page, served: Served, eventually: Poll
) -> None:
    page.goto(served.url + "/dashboard")
    use_key(page, ADMIN_KEY)
    page.wait_for_selector("#board:not([hidden])")
    page.wait_for_function("() => Number(document.body.dataset.polls || 0) >= 2")
    assert page.locator("#chart-events canvas").count() == 1
    assert page.locator("#chart-lag canvas").count() == 1
    # the x axes span their window even over a few seconds of samples (not sub-second ticks)
    for chart, span in (("#chart-events", 300), ("#chart-lag", 300)):
        page.wait_for_function(f"() => document.querySelector('{chart}').dataset.xspan")
        assert float(page.get_attribute(chart, "data-xspan") or 0) >= span, chart
    # under `serve` each poll may reach another API worker: wait until one has counted them
    page.wait_for_function(
        "() => document.querySelector('#chart-events').innerText.includes('purchase')",
        timeout=15_000,
    )
    legend = page.inner_text("#chart-events")
    assert "view" in legend and "purchase" in legend  # one series per event type seen
    groups = {row.split("\t")[0] for row in page.locator("#table-lag tbody tr").all_inner_texts()}
    assert {"history", "realtime"} <= groups
    routes = page.inner_text("#table-routes")
    assert "POST /v1/events" in routes
    top = page.locator("#list-popular li").all_inner_texts()
    first = served.get("/v1/popular?n=1")["items"][0]
    assert len(top) == 10 and top[0].startswith(first.get("title") or first["item_id"])
    assert page.locator("#list-trending li").count() >= 1
    page.fill("#user-input", "demo-shopper-3")
    page.click("#user-form button")
    page.wait_for_selector("#user-result table")
    history = served.get("/v1/users/demo-shopper-3/history?limit=10")["items"]
    assert f"History · {len(history)}" in page.inner_text("#user-result")
    assert "Recommendations" in page.inner_text("#user-result")


def test_the_key_stays_in_the_tab_and_can_be_forgotten(page: Page, served: Served) -> None:
    page.goto(served.url + "/dashboard")
    use_key(page, ADMIN_KEY)
    page.wait_for_selector("#board:not([hidden])")
    page.reload()
    page.wait_for_selector("#board:not([hidden])")  # sessionStorage: survives a reload
    assert page.evaluate("() => localStorage.length") == 0  # never persisted beyond the tab
    page.click("#key-forget")
    page.wait_for_selector("#locked[data-state='required']")


def test_a_running_experiment_shows_its_variants_and_decision(page: Page, served: Served) -> None:
    variants = [
        {"name": "control", "campaign": "default", "share": 0.5},
        {"name": "challenger", "campaign": "default", "share": 0.5},
    ]
    admin = {"Authorization": f"Bearer {ADMIN_KEY}"}
    status, body = served.request("PUT", "/v1/experiments/dash-ab", {"variants": variants}, admin)
    assert status == 200, body
    try:
        for k in range(6):  # some users for the table
            served.get(f"/v1/recommendations/dash-user-{k}")
        page.goto(served.url + "/dashboard")
        use_key(page, ADMIN_KEY)
        box = page.locator("#experiments [data-experiment='dash-ab']")
        box.wait_for()
        assert "no winner yet" in box.locator("h3").inner_text()
        rows = box.locator("tr").all_inner_texts()[1:]
        assert [r.split("\t")[0] for r in rows] == ["control", "challenger"]
        assert box.locator("button.promote").count() == 2
        assert "mSPRT" in box.inner_text()
        page.wait_for_selector("#chart-ctr canvas")
        assert page.locator("#chart-revenue canvas").count() == 1
    finally:
        served.request("POST", "/v1/experiments/dash-ab/stop", None, admin)
