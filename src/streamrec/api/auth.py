"""Credentials: the tracking id for event writes, the admin key for admin routes."""

from __future__ import annotations

import hmac

from fastapi import Request

from streamrec.errors import AuthError


def check_tracking_id(request: Request, expected: str | None) -> None:
    """Header X-Tracking-Id (or ?tracking_id= for sendBeacon, which cannot set headers)."""
    given = request.headers.get("x-tracking-id") or request.query_params.get("tracking_id")
    if not given:
        raise AuthError("X-Tracking-Id header is required", 401)
    if expected is None or not hmac.compare_digest(given, expected):
        raise AuthError("X-Tracking-Id is not this server's tracking id", 403)


def check_admin(request: Request, admin_key: str | None) -> None:
    """Authorization: Bearer <admin_key>. Without a configured admin key, admin routes refuse all."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthError("admin route: send Authorization: Bearer <admin_key>", 401)
    if admin_key is None:
        raise AuthError("admin routes are disabled: no admin_key is configured", 403)
    if not hmac.compare_digest(token.strip(), admin_key):
        raise AuthError("wrong admin key", 403)
