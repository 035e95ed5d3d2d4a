"""``streamrec simulate`` against a running ``streamrec serve``: every process in its place
(recording in the API worker, the attribution group in its own process), and the figures count
each simulated event exactly once."""

from __future__ import annotations

import http.server
import json
import re
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from streamrec.events import MAX_ID_LENGTH
from tests.browser.server import ADMIN_KEY, TRACKING_ID, start_server
from tests.cli_helpers import assert_usage_error, run_cli

SHOPPERS = 60
REPORT = re.compile(  # rich may wrap the line anywhere between words
    r"(\d+)\s+shoppers,\s+(\d+)\s+recommendations,\s+(\d+)\s+clicks,\s+(\d+)\s+"
    r"add-to-carts,\s+(\d+)\s+purchases,\s+revenue\s+([\d.]+)"
)


def admin(url: str, method: str = "GET", body: object | None = None) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method)
    request.add_header("Authorization", f"Bearer {ADMIN_KEY}")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def totals(url: str) -> dict[str, float]:
    since = time.time() - 86_400
    rows = admin(f"{url}/v1/metrics/attribution?interval=1h&from={since}")["intervals"]
    return {
        "recommendations": sum(r["recommendations"] for r in rows),
        "clicks": sum(r["clicks"] for r in rows),
        "carts": sum(r["conversions"]["add_to_cart"] for r in rows),
        "purchases": sum(r["conversions"]["purchase"] for r in rows),
        "revenue": round(sum(r["revenue"] for r in rows), 2),
    }


@pytest.mark.slow
def test_simulated_shoppers_are_counted_once_by_the_running_server(tmp_path: Path) -> None:
    data = tmp_path / "data"
    served = start_server(data, {"STREAMREC_WORKERS": "1"})
    try:
        variants = [
            {"name": "control", "campaign": "default", "share": 0.5},
            {"name": "challenger", "campaign": "default", "share": 0.5},
        ]
        admin(f"{served.url}/v1/experiments/aa", "PUT", {"variants": variants})
        result = run_cli(
            data,
            "simulate",
            "--url",
            served.url,
            "--shoppers",
            str(SHOPPERS),
            "--seed",
            "4",
            env={"STREAMREC_TRACKING_ID": TRACKING_ID},
        )
        match = REPORT.search(result.stdout)
        assert match, result.stdout
        expected = {
            "recommendations": int(match[2]),
            "clicks": int(match[3]),
            "carts": int(match[4]),
            "purchases": int(match[5]),
            "revenue": round(float(match[6]), 2),
        }
        assert expected["recommendations"] == SHOPPERS
        deadline = time.monotonic() + 60
        while totals(served.url) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        assert totals(served.url) == expected
        results = admin(f"{served.url}/v1/experiments/aa")["results"]
        assert sum(v["users"] for v in results["variants"]) == SHOPPERS
    finally:
        served.stop()


@pytest.mark.parametrize(
    ("url", "fragments"),
    [
        ("http://127.0.0.1:1", ["--url", "cannot reach http://127.0.0.1:1", "connection refused"]),
        ("notaurl", ["--url", "notaurl", "http"]),
        ("ftp://127.0.0.1", ["--url", "ftp"]),
        ("http://", ["--url", "host"]),
    ],
)
def test_a_server_that_cannot_be_reached_is_named_in_one_line(
    tmp_path: Path, url: str, fragments: list[str]
) -> None:
    result = run_cli(tmp_path / "data", "simulate", "--url", url, "--shoppers", "1",
                     "--settle-s", "0", check=False)  # fmt: skip
    assert_usage_error(result, *fragments)


class _Refusing(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        body = b'{"error": "unknown tracking id"}'
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST

    def log_message(self, *args: object) -> None:
        pass


def test_a_server_refusing_the_requests_is_one_error_line(tmp_path: Path) -> None:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}"
        result = run_cli(tmp_path / "data", "simulate", "--url", url, "--shoppers", "1",
                         "--settle-s", "0", check=False)  # fmt: skip
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    assert_usage_error(result, "answered 401 Unauthorized", "unknown tracking id", url)


def test_a_prefix_making_ids_the_api_refuses_is_named_before_any_request(tmp_path: Path) -> None:
    prefix = "p" * MAX_ID_LENGTH  # "p...p0" is one character too long
    result = run_cli(tmp_path / "data", "simulate", "--url", "http://127.0.0.1:9",
                     "--prefix", prefix, "--shoppers", "1", "--settle-s", "0",
                     check=False)  # fmt: skip
    assert_usage_error(result, "--prefix", f"up to {MAX_ID_LENGTH + 1} characters")
