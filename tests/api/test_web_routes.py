"""Browser-facing routes: tracker, demo, dashboard page, static assets, CORS for the tracker."""

from __future__ import annotations

from fastapi.testclient import TestClient

from streamrec import __version__
from streamrec.api.app import create_app
from tests.conftest import AUTH, TRACKING_ID, RuntimeFactory

ALLOWED = "https://shop.example"
FOREIGN = "https://evil.example"


def test_the_base_url_answers_an_index_whose_links_work(client: TestClient) -> None:
    r = client.get("/")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    index = r.json()
    assert index["service"] == "streamrec" and index["version"] == __version__
    assert {"docs", "demo", "dashboard", "healthz", "status"} <= set(index["links"])
    assert index["links"]["status"] == "/v1/status"
    for path in index["links"].values():
        assert client.get(path).status_code == 200, path
    assert "/" not in client.get("/openapi.json").json()["paths"]


def test_a_browsers_favicon_request_is_answered_without_an_icon(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 204 and not r.content


def test_tracker_is_served_as_javascript(client: TestClient) -> None:
    r = client.get("/tracker.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")
    assert "sendBeacon" in r.text and "X-Tracking-Id" in r.text


def test_demo_pages_carry_the_tracking_id(client: TestClient) -> None:
    for path in ("/demo", "/demo/item/item-3", "/demo/item/a%2Fb"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert f'data-tracking-id="{TRACKING_ID}"' in r.text
        assert "__STREAMREC_TRACKING_ID__" not in r.text


def test_tracking_id_is_escaped_into_the_demo_page(make_runtime: RuntimeFactory) -> None:
    runtime = make_runtime(tracking_id='a"><script>x</script>')
    with TestClient(create_app(runtime)) as client:
        page = client.get("/demo").text
    assert "<script>x</script>" not in page
    assert 'data-tracking-id="a&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in page


def test_dashboard_page_is_public_but_holds_no_data(client: TestClient) -> None:
    r = client.get("/dashboard")
    assert r.status_code == 200
    assert "Admin key required" in r.text
    assert "/v1/admin/dashboard" not in r.text  # the data comes from the script, with the key


def test_static_assets_and_the_vendored_chart_library(client: TestClient) -> None:
    for path, kind in (
        ("/static/demo/demo.js", "text/javascript"),
        ("/static/demo/demo.css", "text/css"),
        ("/static/dashboard/dashboard.js", "text/javascript"),
        ("/static/vendor/uplot/uPlot.iife.min.js", "text/javascript"),
    ):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(kind), path
    assert "MIT" in client.get("/static/vendor/uplot/LICENSE").text


def test_static_route_refuses_to_leave_its_folder(client: TestClient) -> None:
    for path in (
        "/static/../catalogue.py",
        "/static/%2e%2e/catalogue.py",
        "/static/demo",
        "/static/nope.js",
        "/static/..%2F..%2F__init__.py",
    ):
        assert client.get(path).status_code == 404, path


def _cors_client(make_runtime: RuntimeFactory) -> TestClient:
    return TestClient(create_app(make_runtime(allowed_origins=(ALLOWED,))))


def test_preflight_from_an_allowed_origin_lets_the_tracker_post(
    make_runtime: RuntimeFactory,
) -> None:
    with _cors_client(make_runtime) as client:
        r = client.options(
            "/v1/events",
            headers={
                "Origin": ALLOWED,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-tracking-id",
            },
        )
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == ALLOWED
        assert "x-tracking-id" in r.headers["access-control-allow-headers"].lower()
        post = client.post(
            "/v1/events", json={"user_id": "u", "item_id": "i"}, headers={**AUTH, "Origin": ALLOWED}
        )
        assert post.status_code == 202
        assert post.headers["access-control-allow-origin"] == ALLOWED


def test_preflight_from_another_origin_is_refused(make_runtime: RuntimeFactory) -> None:
    """A browser sends the tracker's JSON POST only after this preflight succeeds."""
    with _cors_client(make_runtime) as client:
        r = client.options(
            "/v1/events",
            headers={
                "Origin": FOREIGN,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,x-tracking-id",
            },
        )
        assert r.status_code == 400
        assert "access-control-allow-origin" not in r.headers


def test_without_allowed_origins_no_cross_origin_post_is_allowed(client: TestClient) -> None:
    r = client.options(
        "/v1/events",
        headers={
            "Origin": ALLOWED,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-tracking-id",
        },
    )
    assert "access-control-allow-origin" not in r.headers
