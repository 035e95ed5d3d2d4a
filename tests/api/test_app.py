"""The application's route order: every route answers its own paths."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from streamrec.api.app import ROUTE_MODULES

ROUTES: list[APIRoute] = [
    route
    for module in ROUTE_MODULES
    for route in module.router.routes
    if isinstance(route, APIRoute)
]


def _example_path(template: str) -> str:
    return re.sub(r"\{[^}]+\}", "some-id", template)


@pytest.mark.parametrize("route", ROUTES, ids=lambda r: f"{sorted(r.methods)[0]} {r.path}")
def test_no_route_is_shadowed_by_an_earlier_one(route: APIRoute) -> None:
    path = _example_path(route.path)
    first = next(
        r for r in ROUTES if r.methods & route.methods and r.path_regex.match(path) is not None
    )
    assert first is route, f"{path} goes to {first.path}"


def test_the_hot_routes_come_first() -> None:
    assert [ROUTES[0].path, ROUTE_MODULES[1].__name__] == [
        "/v1/recommendations/{user_id:path}",
        "streamrec.api.routes.events",
    ]
