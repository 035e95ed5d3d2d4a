"""The OpenAPI document tells the truth: schemathesis runs every route of a live server with every
check (status codes, content types, headers, bodies, schema-valid input accepted, invalid input
refused) and finds nothing. Exceptions are stated in schemathesis.toml next to this file."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.browser.server import ADMIN_KEY, TRACKING_ID, start_server

CONFIG = Path(__file__).with_name("schemathesis.toml")


@pytest.mark.slow
def test_schemathesis_finds_no_failure_on_any_route(tmp_path: Path) -> None:
    served = start_server(tmp_path / "data")
    command = [
        str(Path(sys.executable).with_name("schemathesis")),
        "--config-file",
        str(CONFIG),
        "run",
        f"{served.url}/openapi.json",
        "--checks",
        "all",
        "--seed",
        "10",
        "-H",
        f"Authorization: Bearer {ADMIN_KEY}",
        "-H",
        f"X-Tracking-Id: {TRACKING_ID}",
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=900)
    finally:
        served.stop()
    assert result.returncode == 0, result.stdout[-8000:] + result.stderr[-2000:]
    assert "Tested: " in result.stdout


def test_every_body_is_declared_from_one_definition(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    event = schemas["EventIn"]["properties"]
    assert event["event_type"]["anyOf"][0]["maxLength"] == 64
    assert "HTTPValidationError" not in schemas
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            responses = operation["responses"]
            assert "422" not in responses, (method, path)
            assert {"400", "404", "503"} <= set(responses), (method, path)
            if method in ("put", "post"):
                assert operation["requestBody"]["required"] in (True, False), (method, path)
                assert {"413", "415"} <= set(responses), (method, path)


def test_405_names_every_method_of_the_path(client: TestClient) -> None:
    response = client.delete("/v1/items/x")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) >= {"GET", "PUT"}


def query_parameters_of(document: dict[str, Any], path: str) -> dict[str, dict[str, Any]]:
    parameters = document["paths"][path]["get"]["parameters"]
    return {p["name"]: p for p in parameters if p["in"] == "query"}


def test_parameters_read_from_the_query_string_are_listed(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path, maximum in [("/history/{userId}", 100), ("/recommendation/{userId}", 500)]:
        limit = query_parameters_of(document, path)["limit"]
        assert f"1-{maximum}" in limit["description"] and limit["required"] is False
    for path in ["/v1/recommendations/{user_id}", "/v1/popular",
                 "/v1/items/{item_id}/bought-together", "/v1/items/{item_id}/also-viewed"]:  # fmt: skip
        parameters = query_parameters_of(document, path)
        assert "filter" in parameters, path  # FastAPI's own are kept
        assert "param.NAME" in parameters["filter_params"]["description"], path
        assert parameters["filter_params"]["schema"] == {"type": "string"}
