"""Typed errors of the Huawei adapter; nothing above the adapter sees ``requests`` exceptions."""

from __future__ import annotations

import json
from typing import Any

from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.ports import STATE_REFUSAL_CODES
from geminidb_patcher.retry import parse_retry_after

BUSY_ERROR_CODES = frozenset({"DBS.200019", "DBS.201015", "DBS.280005", "DBS.200998"})
"""Codes Huawei documents as 'another operation is in progress' or 'system busy: try again'."""

_CODE_KEYS = ("error_code", "errCode", "errorCode", "code")
_MESSAGE_KEYS = ("error_msg", "error_message", "errorMsg", "message", "externalMessage")
_MAX_MESSAGE = 300


class HuaweiError(UpstreamError):
    """Base class of every error the Huawei adapter raises."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        error_code: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.error_code = error_code
        self.request_id = request_id

    def __str__(self) -> str:
        head = " ".join(str(part) for part in (self.status, self.error_code) if part)
        return f"{head}: {self.message}" if head else self.message


class ApiError(HuaweiError):
    """The API answered with a non-success status."""


class AuthenticationError(ApiError):
    """401: the signature, token or key was refused."""


class ForbiddenError(ApiError):
    """403 with a code that is not about the instance's state: taken for a missing IAM permission."""


class ThrottledError(ApiError):
    """429: the gateway throttled the caller."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.retry_after = retry_after


class ServerError(ApiError):
    """5xx from the service or its gateway: the request arrived, and may have been carried out."""

    may_have_arrived = True


class TransportError(HuaweiError):
    """No usable HTTP answer: connection refused or reset, timeout, TLS failure."""

    def __init__(self, message: str, *, request_sent: bool, silent: bool = False) -> None:
        super().__init__(message)
        self.request_sent = request_sent
        self.may_have_arrived = request_sent
        self.silent = silent
        """The peer took the request but gave no complete answer in time (a black hole or a drip)."""


class DeadlineError(TransportError):
    """Not sent: too little of the invocation's time was left for the call (or its retry)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, request_sent=False)
        self.error_code = "Deadline"


class ProtocolError(HuaweiError):
    """A success status with a body that is not the documented JSON shape: the request may have been carried out."""

    may_have_arrived = True


class ResponseTooLargeError(ProtocolError):
    """The answer was larger than any legitimate one: refused after reading the limit, and never read again."""

    error_code = "ResponseTooLarge"


def is_retryable_read_error(error: HuaweiError) -> bool:
    """Whether a read may be repeated: transport, throttling, 5xx and the documented busy codes (not a huge body)."""
    if isinstance(error, ResponseTooLargeError):
        return False
    if isinstance(error, TransportError | ThrottledError | ServerError | ProtocolError):
        return True
    return isinstance(error, ApiError) and error.error_code in BUSY_ERROR_CODES


def _first_string(body: dict[str, Any], keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = body.get(key)
        if isinstance(value, str | int) and not isinstance(value, bool) and str(value):
            return str(value)
    for value in body.values():
        if isinstance(value, dict):
            nested = _first_string(value, keys)
            if nested:
                return nested
    return None


def parse_error_body(raw: bytes) -> tuple[str | None, str | None]:
    """Read ``(error_code, message)`` from any of the error shapes Huawei services use."""
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None, None
    if not isinstance(body, dict):
        return None, None
    message = _first_string(body, _MESSAGE_KEYS)
    if message and len(message) > _MAX_MESSAGE:
        message = message[:_MAX_MESSAGE] + "…"
    return _first_string(body, _CODE_KEYS), message


def error_for_status(status: int, raw_body: bytes, request_id: str | None, retry_after: str | None) -> ApiError:
    """Map an HTTP error answer to its typed error, in one table-like place."""
    code, message = parse_error_body(raw_body)
    text = message or f"HTTP {status}"
    details: dict[str, Any] = {"status": status, "error_code": code or str(status), "request_id": request_id}
    if status == 401:
        return AuthenticationError(text, **details)
    if status == 429:
        return ThrottledError(text, retry_after=parse_retry_after(retry_after), **details)
    if status == 403 and code not in STATE_REFUSAL_CODES:
        return ForbiddenError(text, **details)
    if status >= 500:
        return ServerError(text, **details)
    return ApiError(text, **details)
