"""The channel interface and the shared sender: timeouts, retries, error translation."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import requests

from geminidb_patcher import __version__
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.models import RunReport
from geminidb_patcher.notify.digest import Digest, NotifyOn
from geminidb_patcher.retry import NOTIFY_RETRY, RetryPolicy, may_resend, parse_retry_after, request_was_sent

USER_AGENT = f"geminidb-patcher/{__version__}"
ResponseCheck = Callable[[bytes], str | None]
"""Reads a 2xx body; returns the vendor's refusal (``code 19021``) or ``None`` when delivered."""


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


def json_code_check(*keys: str) -> ResponseCheck:
    """A check for vendors that answer 200 with ``{"code": 0}`` / ``{"errcode": 0}`` on success."""

    def check(body: bytes) -> str | None:
        try:
            parsed = json.loads(body or b"{}")
        except ValueError:
            return "unreadable answer"
        if not isinstance(parsed, dict):
            return "unreadable answer"
        for key in keys:
            if key in parsed and parsed[key] not in (0, "0"):
                return f"{key} {parsed[key]}"
        return None

    return check


@dataclass(frozen=True)
class Sender:
    """POSTs with explicit timeouts under the shared retry policy: a message is sent again only when it provably
    did not arrive (no connection, or 429), so a notification is never delivered twice."""

    session: requests.Session
    retry: RetryPolicy = NOTIFY_RETRY
    timeout: tuple[float, float] = (3.05, 10.0)
    sleep: Callable[[float], None] = time.sleep

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
        attempt = 1
        while True:
            retry_after: float | None = None
            try:
                response = self.session.post(
                    url, data=body, headers=sent_headers, timeout=self.timeout, allow_redirects=False
                )
            except requests.RequestException as exc:
                problem, resend = type(exc).__name__, may_resend(sent=request_was_sent(exc), status=None)
            else:
                if 200 <= response.status_code < 300:
                    refused = check(response.content) if check else None
                    if refused is None:
                        return attempt
                    raise NotificationError(channel, f"refused: {refused}", attempt)
                problem = f"HTTP {response.status_code}"
                resend = may_resend(sent=True, status=response.status_code)
                retry_after = parse_retry_after(response.headers.get("Retry-After"))
            wait = self.retry.delay(attempt, retry_after) if resend else None
            if wait is None:
                raise NotificationError(channel, problem, attempt)
            self.sleep(wait)
            attempt += 1


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
