"""The retry policy: which failures are repeated, and how long to wait before the next attempt."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from geminidb_patcher.huawei.errors import (
    HuaweiError,
    ThrottledError,
    TransportError,
    is_retryable_read_error,
)


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with full jitter; ``Retry-After`` wins when the server sends it."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0
    jitter: Callable[[float], float] = field(default=lambda ceiling: random.uniform(0, ceiling))  # noqa: S311

    def delay(self, attempt: int, error: HuaweiError) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or ``None`` to give up."""
        if attempt >= self.max_attempts:
            return None
        if isinstance(error, ThrottledError) and error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.max_retry_after else None
        return self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def may_retry_read(error: HuaweiError) -> bool:
    """Reads are idempotent: retry transport errors, throttling, 5xx and busy codes."""
    return is_retryable_read_error(error)


def may_retry_submission(error: HuaweiError) -> bool:
    """The batch POST is not idempotent: retry only when the server provably did not take it."""
    if isinstance(error, TransportError):
        return not error.request_sent
    return isinstance(error, ThrottledError)
