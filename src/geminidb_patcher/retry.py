"""The one retry policy of every outbound call: the GeminiDB API, SMN and the notification channels.

Two rules: how long to wait (capped exponential backoff with full jitter; ``Retry-After`` wins), and what may be
sent again. Reads may be repeated. A request that changes something (a batch upgrade, a published message, a
posted notification) is sent again only when the server provably did not take it: the connection was never
established, or the server answered 429 (refused, not processed). After anything else, it may have arrived.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

import requests
import urllib3.exceptions

_NOT_SENT_REASONS = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ConnectTimeoutError,
    urllib3.exceptions.NameResolutionError,
    urllib3.exceptions.SSLError,
)
THROTTLED = 429
T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    jitter: Callable[[float], float] = field(default=lambda ceiling: random.uniform(0, ceiling))  # noqa: S311

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        return self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def request_was_sent(exc: requests.RequestException) -> bool:
    """Whether the server may have received the request; only a failed connect proves it did not."""
    if isinstance(exc, requests.ConnectTimeout):
        return False
    if isinstance(exc, requests.ConnectionError):
        reason = exc.args[0] if exc.args else None
        inner = getattr(reason, "reason", reason)
        return not isinstance(inner, _NOT_SENT_REASONS)
    return True


def may_resend(*, sent: bool, status: int | None) -> bool:
    """Whether a request that changes something may be sent again: not sent at all, or refused with 429."""
    return not sent or status == THROTTLED


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header given as a number; ``None`` when absent or unusable."""
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


NOTIFY_RETRY = RetryPolicy(max_attempts=3)
"""Notifications: three attempts at most (each resend only when the message provably did not arrive)."""


def call_with_retries(
    send: Callable[[], T],
    wait_after: Callable[[Exception, int], float | None],
    *,
    time_left: Callable[[], float | None],
    sleep: Callable[[float], None],
    retry_on: type[Exception] | tuple[type[Exception], ...] = Exception,
) -> T:
    """The one retry loop of every outbound call: ``send`` until it succeeds or ``wait_after(error, attempt)``
    says stop (``None``). No wait outlives ``time_left()`` (seconds; ``None``: no deadline): a pause, or a
    ``Retry-After``, that would end past it is not waited, and the error is raised at once."""
    attempt = 1
    while True:
        try:
            return send()
        except retry_on as error:
            wait = wait_after(error, attempt)
            left = time_left()
            if wait is None or (left is not None and wait >= left):
                raise
            if wait > 0:
                sleep(wait)
            attempt += 1
