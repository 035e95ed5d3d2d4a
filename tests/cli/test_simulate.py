"""``streamrec simulate`` against a running ``streamrec serve``: every process in its place
(recording in the API worker, the attribution group in its own process), and the figures count
each simulated event exactly once."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests.browser.server import ADMIN_KEY, TRACKING_ID, start_server
from tests.cli_helpers import run_cli

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
