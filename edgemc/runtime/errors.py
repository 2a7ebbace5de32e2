"""Typed API errors built from Kubernetes `Status` bodies, so callers never test status codes.

Hierarchy::

    ApiError
     +-- BadRequest          400
     +-- Unauthorized        401
     +-- Forbidden           403
     +-- NotFound            404
     +-- MethodNotAllowed    405
     +-- Conflict            409 (reason Conflict: stale resourceVersion, failed precondition)
     +-- AlreadyExists       409 (reason AlreadyExists: create of an existing name)
     +-- Gone                410 (Gone / Expired: the watch history or continue token is gone)
     +-- Invalid             422
     +-- TooManyRequests     429 (carries `retry_after` seconds when the server said so)
     +-- ServerError         5xx

`ApiError` itself is raised for any other 4xx code and for connection failures (code 0).
"""

from __future__ import annotations

from typing import Any

import orjson


class ApiError(Exception):
    """A failed API request; `status` is the server's `Status` body (or one synthesized)."""

    def __init__(
        self,
        code: int,
        reason: str = "",
        message: str = "",
        details: dict[str, Any] | None = None,
        *,
        status: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or reason or f"HTTP {code}")
        self.code = code
        self.reason = reason
        self.message = message
        self.details: dict[str, Any] = details or {}
        self.status: dict[str, Any] = status or {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        }
        self.retry_after = retry_after

    @property
    def causes(self) -> list[dict[str, Any]]:
        """`details.causes`: [{reason, message, field}], e.g. the fields an Invalid names."""
        return list(self.details.get("causes") or [])

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code={self.code}, reason={self.reason!r}, {self.message!r})"


class BadRequest(ApiError):
    """400: the request itself is malformed (bad selector, bad patch, wrong namespace...)."""


class Unauthorized(ApiError):
    """401: the credentials were missing or not accepted."""


class Forbidden(ApiError):
    """403: authenticated, but RBAC (or admission) denies the request."""


class NotFound(ApiError):
    """404: the object, or the resource type itself, does not exist."""


class MethodNotAllowed(ApiError):
    """405: the verb is not served here (e.g. a write through a `/clusters/*` wildcard URL)."""


class Conflict(ApiError):
    """409 Conflict: stale resourceVersion or failed precondition; re-read and retry."""


class AlreadyExists(ApiError):
    """409 AlreadyExists: a create named an object that already exists."""


class Gone(ApiError):
    """410: the requested resourceVersion is older than the server's history; relist."""


class Invalid(ApiError):
    """422: the object failed validation; `causes` lists the offending fields."""


class TooManyRequests(ApiError):
    """429: throttled; `retry_after` is the server's Retry-After in seconds, if given."""


class ServerError(ApiError):
    """5xx: the server failed (or timed out) handling a request that may be retried."""


_BY_CODE: dict[int, type[ApiError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    405: MethodNotAllowed,
    409: Conflict,
    410: Gone,
    422: Invalid,
    429: TooManyRequests,
}


def error_class(code: int, reason: str = "") -> type[ApiError]:
    """The exception class for an HTTP code; 409 is split by reason."""
    if code == 409 and reason == "AlreadyExists":
        return AlreadyExists
    if code >= 500:
        return ServerError
    return _BY_CODE.get(code, ApiError)


def error_from_status(
    status: dict[str, Any] | bytes | str | None,
    code: int | None = None,
    *,
    retry_after: float | None = None,
) -> ApiError:
    """Build the typed error for a `Status` body (dict or raw bytes) and/or an HTTP code.

    The HTTP code wins over the body's `code` when both are given (a proxy may answer with a
    non-Status body). A body that is not a Status becomes the message.
    """
    body: dict[str, Any] | None = None
    text = ""
    if isinstance(status, dict):
        body = status
    elif status:
        raw = status.encode() if isinstance(status, str) else status
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            parsed = None
        if isinstance(parsed, dict) and parsed.get("kind") == "Status":
            body = parsed
        else:
            text = raw.decode("utf-8", "replace").strip()
    if body is None:
        final_code = code or 0
        return error_class(final_code)(
            final_code, "", text or f"HTTP {final_code}", retry_after=retry_after
        )
    final_code = int(code or body.get("code") or 0)
    reason = str(body.get("reason") or "")
    details = body.get("details") or {}
    if retry_after is None and details.get("retryAfterSeconds"):
        retry_after = float(details["retryAfterSeconds"])
    return error_class(final_code, reason)(
        final_code,
        reason,
        str(body.get("message") or ""),
        details,
        status=body,
        retry_after=retry_after,
    )
