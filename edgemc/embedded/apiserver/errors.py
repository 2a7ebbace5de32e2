"""Kubernetes `Status` errors raised by the server's layers and rendered by the HTTP handler."""

from __future__ import annotations

from typing import Any


class StatusError(Exception):
    """An API failure carrying everything needed to answer with a Kubernetes `Status`."""

    def __init__(
        self,
        code: int,
        reason: str,
        message: str,
        details: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.headers = headers or {}

    def status(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        }
        if self.details:
            body["details"] = self.details
        return body


def _details(group_resource: tuple[str, str] | None, name: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group_resource:
        group, resource = group_resource
        if group:
            details["group"] = group
        details["kind"] = resource
    return details


def _qualified(group_resource: tuple[str, str]) -> str:
    group, resource = group_resource
    return f"{resource}.{group}" if group else resource


def not_found(group_resource: tuple[str, str], name: str) -> StatusError:
    return StatusError(
        404,
        "NotFound",
        f'{_qualified(group_resource)} "{name}" not found',
        _details(group_resource, name),
    )


def resource_not_found() -> StatusError:
    return StatusError(404, "NotFound", "the server could not find the requested resource")


def already_exists(group_resource: tuple[str, str], name: str) -> StatusError:
    return StatusError(
        409,
        "AlreadyExists",
        f'{_qualified(group_resource)} "{name}" already exists',
        _details(group_resource, name),
    )


def conflict(group_resource: tuple[str, str], name: str, why: str) -> StatusError:
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {_qualified(group_resource)} "{name}": {why}',
        _details(group_resource, name),
    )


STALE_OBJECT = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def invalid(kind: str, group: str, name: str, causes: list[dict[str, Any]]) -> StatusError:
    """422 Invalid, worded like upstream: `Deployment.apps "x" is invalid: spec.replicas: ...`."""
    parts = [
        f"{c['field']}: {c.get('message', '')}" if c.get("field") else c.get("message", "")
        for c in causes
    ]
    summary = parts[0] if len(parts) == 1 else "[" + ", ".join(parts) + "]"
    qualified_kind = f"{kind}.{group}" if group else kind
    details: dict[str, Any] = {"name": name, "kind": kind, "causes": causes}
    if group:
        details["group"] = group
    return StatusError(422, "Invalid", f'{qualified_kind} "{name}" is invalid: {summary}', details)


def bad_request(message: str, causes: list[dict[str, Any]] | None = None) -> StatusError:
    return StatusError(400, "BadRequest", message, {"causes": causes} if causes else None)


def method_not_supported(message: str) -> StatusError:
    return StatusError(405, "MethodNotAllowed", message)


BODY_MEDIA_TYPES = (
    "application/json",
    "application/yaml",
    "application/merge-patch+json",
    "application/json-patch+json",
    "application/strategic-merge-patch+json",
)


def unsupported_media_type(content_type: str, why: str = "") -> StatusError:
    if why:
        return StatusError(415, "UnsupportedMediaType", f"{content_type}: {why}")
    return StatusError(
        415,
        "UnsupportedMediaType",
        f"the body of the request was in an unknown format - accepted media types include: "
        f"{', '.join(BODY_MEDIA_TYPES)} (got {content_type!r})",
    )


def not_acceptable(accept: str) -> StatusError:
    return StatusError(
        406,
        "NotAcceptable",
        f"only the following media types are accepted: application/json, application/yaml "
        f"(got {accept!r})",
    )


def expired(message: str) -> StatusError:
    return StatusError(410, "Expired", message)


def too_large(message: str) -> StatusError:
    return StatusError(413, "RequestEntityTooLarge", f"Request entity too large: {message}")


def forbidden(
    message: str, group_resource: tuple[str, str] | None = None, name: str = ""
) -> StatusError:
    return StatusError(403, "Forbidden", message, _details(group_resource, name) or None)


def unauthorized() -> StatusError:
    return StatusError(401, "Unauthorized", "Unauthorized")


def too_many_requests(retry_after: int) -> StatusError:
    return StatusError(
        429,
        "TooManyRequests",
        "Too many requests, please try again later.",
        {"retryAfterSeconds": retry_after},
        {"Retry-After": str(retry_after)},
    )


def timeout(message: str) -> StatusError:
    return StatusError(504, "Timeout", message)


def internal(message: str) -> StatusError:
    return StatusError(500, "InternalError", f"Internal error occurred: {message}")
