"""One exception tree for streamrec, translated to HTTP status codes in one place (api/errors.py)."""

from __future__ import annotations


class StreamrecError(Exception):
    """Base of every error streamrec raises on purpose."""


class ConfigError(StreamrecError):
    """A setting is missing, unknown or has a wrong value; the message names the key."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"{key}: {message}")
        self.key = key


class ValidationError(StreamrecError):
    """Input that does not fit the schema; `field` names what was wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class NotFoundError(StreamrecError):
    """The thing asked for does not exist (unknown item, model version, campaign); `field` names
    the parameter that named it (the 404 body's ``field``), where one did."""

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class UnavailableError(StreamrecError):
    """A backend cannot serve right now; the caller may retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class StreamUnavailable(UnavailableError):
    """The stream cannot append durably: no event may be acknowledged."""


class StoreUnavailable(UnavailableError):
    """A history / user-state store cannot be reached."""


class OverloadedError(UnavailableError):
    """Too much work queued: shed load with 503 and Retry-After."""


class RateLimitedError(StreamrecError):
    """A client sent requests faster than its rate limit: 429, retry after `retry_after_s`."""

    def __init__(self, message: str, retry_after_s: int = 1) -> None:
        super().__init__(message)
        self.retry_after_s = retry_after_s


class ModelError(StreamrecError):
    """A model file is corrupt or incomplete, or training cannot run (too little data)."""


class AuthError(StreamrecError):
    """Missing (401) or wrong (403) credentials; `field` names the credential that was missing or
    wrong (the header, query parameter or setting), as every other 4xx body does."""

    def __init__(self, message: str, status: int, field: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
