"""Which failed GeminiDB calls are repeated; the waiting itself is the shared ``RetryPolicy``."""

from __future__ import annotations

from geminidb_patcher.huawei.errors import HuaweiError, ThrottledError, TransportError, is_retryable_read_error
from geminidb_patcher.retry import RetryPolicy, may_resend

__all__ = ["RetryPolicy", "may_retry_read", "may_retry_submission"]


def may_retry_read(error: HuaweiError) -> bool:
    """Reads are idempotent: retry transport errors, throttling, 5xx and busy codes."""
    return is_retryable_read_error(error)


def may_retry_submission(error: HuaweiError) -> bool:
    """A call that changes something: retry only when the server provably did not take it."""
    if isinstance(error, TransportError):
        return may_resend(sent=error.request_sent, status=None)
    return isinstance(error, ThrottledError) and may_resend(sent=True, status=error.status)
