"""The channel interface and the shared sender: timeouts, retries, error translation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import requests

from geminidb_patcher import __version__
from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.notify.digest import Digest, NotifyOn
from geminidb_patcher.retry import (
    NOTIFY_RETRY,
    RetryPolicy,
    call_with_retries,
    may_resend,
    parse_retry_after,
    request_was_sent,
)
from geminidb_patcher.transport import BodyTooLargeError, CallExpiredError, Deadline, bounded_call, read_capped

USER_AGENT = f"geminidb-patcher/{__version__}"
MAX_CHANNEL_ANSWER_BYTES = 1024 * 1024
"""A channel's answer is a short acknowledgement; more than this is not read."""
ANSWER_RESERVE_SECONDS = 1.0
"""Time kept back from the deadline for the invocation to answer after its notifications."""


@dataclass(frozen=True)
class Refusal:
    """A vendor's refusal in a 2xx answer: its reason (``code 19021``), and whether it is throttling, which means
    the message was not taken and may be sent again after a pause."""

    reason: str
    throttled: bool = False


ResponseCheck = Callable[[bytes], Refusal | None]
"""Reads a 2xx body; returns the vendor's refusal, or ``None`` when delivered."""


class NotificationError(UpstreamError):
    """A channel could not deliver; the message names the channel and the problem, never its URL or key."""

    def __init__(self, channel: str, problem: str, attempts: int) -> None:
        super().__init__(f"channel {channel}: {problem} after {attempts} attempt(s)")
        self.problem = problem
        self.attempts = attempts
        self.message = str(self)


class Channel(Protocol):
    """One configured notification destination."""

    @property
    def name(self) -> str:
        """How logs and metrics refer to the channel; never its URL."""
        ...

    @property
    def notify_on(self) -> NotifyOn:
        """Which runs it wants."""
        ...

    def send(self, report: RunReport, digest: Digest) -> int:
        """Deliver; return the attempts it took, or raise ``NotificationError``."""
        ...


def json_body(payload: Any) -> bytes:
    """Compact UTF-8 JSON, as the size limits are counted."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_code_check(*keys: str, throttled: frozenset[int] = frozenset()) -> ResponseCheck:
    """A check for vendors that answer 200 with ``{"code": 0}`` / ``{"errcode": 0}`` on success; the codes in
    ``throttled`` are the vendor's rate limit (the message was not taken: it may go again after a pause)."""

    def check(body: bytes) -> Refusal | None:
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            return Refusal("unreadable answer")
        if not isinstance(parsed, dict):
            return Refusal("unreadable answer")
        for key in keys:
            if key in parsed and parsed[key] not in (0, "0"):
                code = parsed[key]
                return Refusal(f"{key} {code}", throttled=str(code) in {str(t) for t in throttled})
        return None

    return check


VENDOR_REASON_CHARS = 120


def _vendor_reason(answer: bytes) -> str:
    """The vendor's own short reason for a refusal (Slack ``invalid_payload``, a JSON ``message``), for the log."""
    text = answer.decode("utf-8", "replace").strip()
    try:
        parsed = json.loads(text) if text.startswith("{") else None
    except ValueError:
        parsed = None
    if isinstance(parsed, dict):
        text = str(parsed.get("error") or parsed.get("message") or parsed.get("msg") or parsed.get("errmsg") or "")
    text = " ".join(text.split())[:VENDOR_REASON_CHARS]
    return f": {text}" if text and text.isprintable() else ""


class _AttemptFailedError(Exception):
    """One delivery attempt that failed: what went wrong, and whether the message may be sent again."""

    def __init__(self, problem: str, resend: bool, retry_after: float | None = None) -> None:
        super().__init__(problem)
        self.problem, self.resend, self.retry_after = problem, resend, retry_after


@dataclass(frozen=True)
class Sender:
    """POSTs with explicit timeouts under the shared retry policy: a message is sent again only when it provably
    did not arrive (no connection, or 429), so a notification is never delivered twice. Every attempt and every
    pause fits the run's deadline (less a second to answer): a ``Retry-After`` beyond it is not waited, and a
    peer that drips its answer is cut off when the call's time is up."""

    session: requests.Session
    retry: RetryPolicy = NOTIFY_RETRY
    timeout: tuple[float, float] = (3.05, 10.0)
    sleep: Callable[[float], None] = time.sleep
    deadline: Deadline = field(default_factory=Deadline)

    def time_left(self) -> float | None:
        """Seconds the channels may still use, or ``None`` without a deadline."""
        left = self.deadline.left()
        return None if left is None else left - ANSWER_RESERVE_SECONDS

    def post(
        self,
        channel: str,
        url: str,
        body: bytes,
        headers: dict[str, str] | None = None,
        check: ResponseCheck | None = None,
    ) -> int:
        """Deliver ``body``; return the attempts used, or raise ``NotificationError``."""
        sent_headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": USER_AGENT, **(headers or {})}
        attempts = [0]

        def once() -> int:
            attempts[0] += 1
            left = self.time_left()
            if left is not None and left <= 0:
                raise _AttemptFailedError("no time left before the deadline", resend=False)
            total = sum(self.timeout) if left is None else min(sum(self.timeout), left)
            try:
                with bounded_call(total):
                    response = self.session.post(
                        url,
                        data=body,
                        headers=sent_headers,
                        timeout=(min(self.timeout[0], max(0.1, total)), min(self.timeout[1], max(0.1, total))),
                        allow_redirects=False,
                        stream=True,
                    )
                    with response:
                        answer = read_capped(response, MAX_CHANNEL_ANSWER_BYTES)
            except CallExpiredError:
                raise _AttemptFailedError(f"no complete answer within {total:.1f} s", resend=False) from None
            except BodyTooLargeError:
                raise _AttemptFailedError("an answer too large to read", resend=False) from None
            except requests.RequestException as exc:
                raise _AttemptFailedError(
                    type(exc).__name__, may_resend(sent=request_was_sent(exc), status=None)
                ) from None
            if 200 <= response.status_code < 300:
                refused = check(answer) if check else None
                if refused is None:
                    return attempts[0]
                if refused.throttled:  # the vendor's rate limit in a 200: not taken, so it may go again
                    raise _AttemptFailedError(f"throttled: {refused.reason}", resend=True)
                raise _AttemptFailedError(f"refused: {refused.reason}", resend=False)
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            resend = may_resend(sent=True, status=response.status_code)
            raise _AttemptFailedError(f"HTTP {response.status_code}{_vendor_reason(answer)}", resend, retry_after)

        def wait_after(error: Exception, attempt: int) -> float | None:
            assert isinstance(error, _AttemptFailedError)
            return self.retry.delay(attempt, error.retry_after) if error.resend else None

        try:
            return call_with_retries(
                once, wait_after, time_left=self.time_left, sleep=self.sleep, retry_on=_AttemptFailedError
            )
        except _AttemptFailedError as failed:
            raise NotificationError(channel, failed.problem, attempts[0]) from None


@dataclass(frozen=True, repr=False)
class UrlChannel:
    """POSTs the rendered digest to a URL that is itself the credential (Slack, Teams Workflows, WeCom)."""

    name: str
    url: str
    sender: Sender
    render: Callable[[Digest], Any]
    check: ResponseCheck | None = None
    notify_on: NotifyOn = "changes"

    def __repr__(self) -> str:
        return f"UrlChannel(name={self.name!r})"

    def send(self, report: RunReport, digest: Digest) -> int:
        """Render and deliver."""
        return self.sender.post(self.name, self.url, json_body(self.render(digest)), check=self.check)


@dataclass(frozen=True, repr=False)
class SignedChannel:
    """A URL and an optional signing secret; subclasses render and sign in ``send``. Never shows its URL."""

    name: str
    url: str
    secret: str | None
    sender: Sender
    clock: Callable[[], float]
    notify_on: NotifyOn = "changes"

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"
