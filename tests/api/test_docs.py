"""/docs and /redoc point at assets this server serves (no CDN); the assets are there."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient


def test_doc_pages_load_nothing_from_elsewhere(client: TestClient) -> None:
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        urls = re.findall(r"(?:src|href)=['\"]([^'\"]+)['\"]", html)
        assert urls and all(u.startswith("/") for u in urls), urls
        for url in urls:
            response = client.get(url)
            assert response.status_code == 200 and len(response.content) > 1000, url


def test_only_known_assets_are_served(client: TestClient) -> None:
    assert client.get("/docs/assets/swagger-ui.css").headers["content-type"].startswith("text/css")
    assert client.get("/docs/assets/../../etc/passwd").status_code == 404
    assert client.get("/docs/assets/core.py").status_code == 404
