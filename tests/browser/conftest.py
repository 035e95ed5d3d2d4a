"""Fixtures for the real-browser tests: a served, seeded streamrec, Debian's Chromium, two shops.

Chromium is the system one (scripts/install-browser.sh); Playwright never downloads a browser.
Besides the server's own origin, two tiny "shop" sites on other loopback ports include the tracker
the way a customer's site would: one origin is in ``allowed_origins``, the other is not.
A failing test leaves a screenshot in tests/browser/artifacts/.
"""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from streamrec.testing.fixtures import skip_or_fail
from tests.browser.server import TRACKING_ID, Served, free_port, seed_demo_over_http, start_server

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
LAUNCH_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def require_chromium() -> None:
    """Skip without Chromium; under CI=true fail, as the README promises."""
    if not CHROMIUM.exists():
        skip_or_fail(f"no {CHROMIUM}: run scripts/install-browser.sh")


SHOP_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>shop</title>
<script src="{server}/tracker.js" data-tracking-id="{tracking_id}" {extra}></script>
</head><body><h1>a customer's shop</h1></body></html>"""


class Shop:
    """A static site on its own origin whose page includes the tracker from the server."""

    def __init__(self, server_url: str) -> None:
        self.port = free_port()
        self.origin = f"http://127.0.0.1:{self.port}"
        self.server_url = server_url
        self._httpd: http.server.ThreadingHTTPServer | None = None

    def page_url(self, flush_ms: int = 1000, batch_size: int = 20) -> str:
        return f"{self.origin}/shop.html?flush_ms={flush_ms}&batch_size={batch_size}"

    def html(self, query: dict[str, str]) -> bytes:
        extra = (
            f'data-flush-ms="{int(query.get("flush_ms", "1000"))}" '
            f'data-batch-size="{int(query.get("batch_size", "20"))}"'
        )
        return SHOP_PAGE.format(
            server=self.server_url, tracking_id=TRACKING_ID, extra=extra
        ).encode()

    def start(self) -> Shop:
        shop = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                from urllib.parse import parse_qsl, urlsplit

                query = dict(parse_qsl(urlsplit(self.path).query))
                body = shop.html(query)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()


@pytest.fixture(scope="session")
def allowed_shop_port() -> int:
    return free_port()


@pytest.fixture(scope="session")
def served(tmp_path_factory: pytest.TempPathFactory, allowed_shop_port: int) -> Iterator[Served]:
    require_chromium()
    data_dir = tmp_path_factory.mktemp("browser") / "data"
    env = {"STREAMREC_ALLOWED_ORIGINS": f"http://127.0.0.1:{allowed_shop_port}"}
    server = start_server(data_dir, env)
    try:
        seed_demo_over_http(server)
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def allowed_shop(served: Served, allowed_shop_port: int) -> Iterator[Shop]:
    shop = Shop(served.url)
    shop.port, shop.origin = allowed_shop_port, f"http://127.0.0.1:{allowed_shop_port}"
    yield shop.start()
    shop.stop()


@pytest.fixture(scope="session")
def foreign_shop(served: Served) -> Iterator[Shop]:
    shop = Shop(served.url).start()
    yield shop
    shop.stop()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    require_chromium()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        yield chromium
        chromium.close()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    report = yield
    setattr(item, f"report_{report.when}", report)  # the page fixture reads it at teardown
    return report


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A fresh context (own storage: a new anonymous visitor); screenshot kept on failure."""
    context = browser.new_context(viewport={"width": 1300, "height": 900})
    context.set_default_timeout(10_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield page
    report = getattr(request.node, "report_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    context.close()
    assert errors == [], f"JavaScript errors on the page: {errors}"


Poll = Callable[[Callable[[], bool], float], None]


@pytest.fixture
def eventually(page: Page) -> Poll:
    """Wait until a condition holds (the server side is asynchronous: consumers, caches).

    Waits with page.wait_for_timeout, not time.sleep: Playwright's sync API delivers page events
    (requests seen, routes to fulfil) only while it is called."""

    def wait(condition: Callable[[], bool], timeout_s: float = 10.0) -> None:
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"condition still false after {timeout_s} s")
            page.wait_for_timeout(100)

    return wait
