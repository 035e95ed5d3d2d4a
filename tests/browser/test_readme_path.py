"""The README's demo path, word by word: run, import, import-items, train, click in /demo, see
titled recommendations change, restart, see the same recommendations.

The MovieLens files are generated (streamrec.synthetic.write_movielens), never copied."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import ConsoleMessage, Page

from streamrec.synthetic import write_movielens
from tests.browser.conftest import Poll
from tests.browser.server import Served, start_server
from tests.browser.test_demo import RECOMMENDED, ids, wait_rendered
from tests.cli_helpers import run_cli

pytestmark = pytest.mark.browser

TITLES = "#widget-recommended .card .title"


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def console_errors(page: Page) -> Iterator[list[str]]:
    errors: list[str] = []

    def keep(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} {message.location.get('url', '')}")

    page.on("console", keep)
    yield errors


def recommended(page: Page) -> list[tuple[str, str]]:
    titles = page.eval_on_selector_all(TITLES, "els => els.map(e => e.textContent)")
    return list(zip(ids(page, RECOMMENDED), titles, strict=True))


def settled_recommendations(page: Page, served: Served, eventually: Poll) -> list[str]:
    """What the widget shows once the consumers have every click (two equal renders)."""
    served.wait_caught_up()
    shown: list[list[str]] = []

    def stable() -> bool:
        count = int(page.get_attribute("#widget-recommended", "data-renders") or 0)
        page.evaluate("() => streamrecDemo.refresh()")
        wait_rendered(page, "recommended", count)
        shown.append(ids(page, RECOMMENDED))
        return len(shown) >= 2 and shown[-1] == shown[-2]

    eventually(stable, 20.0)
    return shown[-1]


def test_the_readme_demo_path(
    page: Page, data_dir: Path, tmp_path: Path, eventually: Poll, console_errors: list[str]
) -> None:
    movielens = write_movielens(tmp_path / "ml-100k", n_users=120, n_items=150, n_ratings=6000)
    served = start_server(data_dir, args=["--demo"])  # what `make run` starts
    try:
        run_cli(data_dir, "import", str(movielens / "u.data"), "--format", "movielens")
        run_cli(data_dir, "import-items", str(movielens / "u.item"), "--format", "movielens")
        run_cli(data_dir, "train", "--activate")

        page.goto(served.url + "/demo")
        wait_rendered(page, "recommended")
        before = ids(page, RECOMMENDED)
        page.goto(served.url + "/demo/item/12")  # a film, from its deep link
        page.wait_for_selector(".detail h1")
        assert page.inner_text(".detail h1") == "Film 12 (1997)"
        page.wait_for_selector("#widget-similar [data-item-id]")
        page.locator("#widget-similar .card").first.click()
        page.wait_for_selector(".detail h1")
        eventually(lambda: ids(page, RECOMMENDED) != before and bool(ids(page, RECOMMENDED)))
        shown = settled_recommendations(page, served, eventually)
        for item_id, title in recommended(page):
            assert title and title != item_id, f"item {item_id} shown without a title"
        assert any(title.startswith("Film ") for _, title in recommended(page))
        page.goto("about:blank")  # leave before the server goes: no refresh against a dead port
    finally:
        served.stop()

    port = int(served.url.rsplit(":", 1)[1])  # the same origin: the visitor keeps their id
    served = start_server(data_dir, args=["--demo"], port=port)  # Ctrl-C, `make run` again
    try:
        page.goto(served.url + "/demo")
        wait_rendered(page, "recommended")
        assert settled_recommendations(page, served, eventually) == shown
    finally:
        served.stop()
    assert console_errors == []
