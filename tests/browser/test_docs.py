"""/docs and /redoc render the API's operations with nothing from outside the server (offline):
no script, style sheet, font, image or data request leaves it."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Route

from tests.browser.server import Served

pytestmark = pytest.mark.browser


def offline(page: Page) -> list[str]:
    """Refuse every request that leaves the server, as a host without Internet would."""
    refused: list[str] = []

    def handle(route: Route) -> None:
        if urlsplit(route.request.url).hostname == "127.0.0.1":
            route.continue_()
        else:
            refused.append(route.request.url)
            route.abort()

    page.route("**/*", handle)
    return refused


def test_swagger_ui_renders_the_operations_offline(page: Page, served: Served) -> None:
    refused = offline(page)
    page.goto(served.url + "/docs")
    page.wait_for_selector(".opblock")
    paths = page.eval_on_selector_all(
        ".opblock .opblock-summary-path", "els => els.map(e => e.textContent.trim())"
    )
    assert "/v1/events" in [p.replace("\u200b", "") for p in paths]
    assert refused == []


def test_redoc_renders_the_operations_offline(page: Page, served: Served) -> None:
    refused = offline(page)
    page.goto(served.url + "/redoc")
    page.wait_for_selector("[data-section-id^='tag/'], [data-section-id^='operation/']")
    assert "/v1/events" in page.inner_text("body")
    page.wait_for_load_state("networkidle")  # the footer's logo is added after the first render
    assert refused == []
