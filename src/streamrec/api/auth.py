"""Credentials: the tracking id for event writes, the admin key for admin routes."""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import Request

from streamrec.errors import AuthError


def check_tracking_id(request: Request, expected: str | None) -> None:
    """Header X-Tracking-Id (or ?tracking_id= for sendBeacon, which cannot set headers); an
    error names the one the request used."""
    header = request.headers.get("x-tracking-id")
    given = header or request.query_params.get("tracking_id")
    if not given:
        raise AuthError(
            "a tracking id is required: the X-Tracking-Id header (or ?tracking_id= for beacons)",
            401,
            "X-Tracking-Id",
        )
    if expected is None or not hmac.compare_digest(given, expected):
        where = "the X-Tracking-Id header" if header else "?tracking_id="
        field = "X-Tracking-Id" if header else "tracking_id"
        raise AuthError(f"{where} is not this server's tracking id", 403, field)


def check_tracking_id_if_given(request: Request, expected: str | None) -> None:
    """For routes that need no tracking id (``POST /interaction``, as in the AWS sample): one that
    is sent, as header or ``?tracking_id=``, is still checked as check_tracking_id checks it (403
    naming it when wrong). A wrong id is a client misconfigured against another server; accepting
    it would hide that until the events are missed there."""
    if request.headers.get("x-tracking-id") or request.query_params.get("tracking_id"):
        check_tracking_id(request, expected)


def check_origin(request: Request, allowed: Sequence[str]) -> None:
    """Only allowed_origins (and same-origin pages) may post events from a browser.

    CORS stops the tracker's JSON POST at its preflight, but a beacon (text/plain) is a "simple"
    request the browser sends without asking, and the tracking id is public in every page, so the
    server checks Origin itself. Requests without Origin (servers, curl) pass.
    """
    origin = request.headers.get("origin")
    if origin is None or "*" in allowed or origin in allowed:
        return
    if origin != f"{request.url.scheme}://{request.headers.get('host', '')}":
        raise AuthError(f"origin {origin} is not in allowed_origins", 403, "Origin")


def check_admin(request: Request, admin_key: str | None) -> None:
    """Authorization: Bearer <admin_key>. Without a configured admin key, admin routes refuse all."""
    if admin_key is None:  # said first: asking for a key that cannot exist misleads
        raise AuthError(
            "admin routes are disabled: no admin_key is configured (set STREAMREC_ADMIN_KEY, or "
            "admin_key in the config file given by --config or STREAMREC_CONFIG, and restart)",
            403,
            "admin_key",
        )
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("admin route: send Authorization: Bearer <admin_key>", 401, "Authorization")
    if not hmac.compare_digest(token.strip(), admin_key):
        raise AuthError("wrong admin key", 403, "Authorization")
