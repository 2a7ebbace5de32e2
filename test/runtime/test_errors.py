"""Tests of typed API errors built from Status bodies."""

from __future__ import annotations

import orjson
import pytest

from edgemc.runtime import errors
from edgemc.runtime.errors import error_from_status


def status(code: int, reason: str, message: str = "m", **details: object) -> dict:
    body = {"kind": "Status", "apiVersion": "v1", "status": "Failure", "code": code}
    body |= {"reason": reason, "message": message}
    if details:
        body["details"] = details
    return body


@pytest.mark.parametrize(
    ("code", "reason", "cls"),
    [
        (400, "BadRequest", errors.BadRequest),
        (401, "Unauthorized", errors.Unauthorized),
        (403, "Forbidden", errors.Forbidden),
        (404, "NotFound", errors.NotFound),
        (405, "MethodNotAllowed", errors.MethodNotAllowed),
        (409, "Conflict", errors.Conflict),
        (409, "AlreadyExists", errors.AlreadyExists),
        (410, "Expired", errors.Gone),
        (410, "Gone", errors.Gone),
        (422, "Invalid", errors.Invalid),
        (429, "TooManyRequests", errors.TooManyRequests),
        (500, "InternalError", errors.ServerError),
        (503, "ServiceUnavailable", errors.ServerError),
        (418, "Teapot", errors.ApiError),
    ],
)
def test_class_by_code_and_reason(code: int, reason: str, cls: type) -> None:
    err = error_from_status(status(code, reason))
    assert type(err) is cls
    assert isinstance(err, errors.ApiError)
    assert (err.code, err.reason, err.message) == (code, reason, "m")


def test_conflict_and_already_exists_are_distinct() -> None:
    assert not issubclass(errors.AlreadyExists, errors.Conflict)
    assert not issubclass(errors.Conflict, errors.AlreadyExists)


def test_causes_and_retry_after_from_bytes() -> None:
    cause = {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}
    err = error_from_status(orjson.dumps(status(422, "Invalid", causes=[cause])))
    assert isinstance(err, errors.Invalid) and err.causes == [cause]
    throttled = error_from_status(status(429, "TooManyRequests", retryAfterSeconds=3))
    assert throttled.retry_after == 3.0
    assert error_from_status(status(429, "TooManyRequests"), retry_after=7).retry_after == 7


def test_non_status_body_uses_http_code() -> None:
    err = error_from_status(b"upstream connect error", 502)
    assert isinstance(err, errors.ServerError) and err.message == "upstream connect error"
    assert error_from_status(None, 404).code == 404
    # The HTTP code wins over a Status body's code.
    assert isinstance(error_from_status(status(500, "X"), 404), errors.NotFound)
