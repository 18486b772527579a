"""The channel interface and the shared sender: timeouts, retries, error translation."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import requests

from geminidb_patcher.models import RunReport

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class NotificationError(Exception):
    """A channel could not deliver; the message names the channel and status, never its URL or key."""


class Channel(Protocol):
    """One configured notification destination."""

    @property
    def name(self) -> str:
        """How logs and metrics refer to the channel; never its URL."""
        ...

    def send(self, report: RunReport, report_json: bytes) -> None:
        """Deliver the report, or raise ``NotificationError``."""
        ...


@dataclass(frozen=True)
class Sender:
    """POSTs with explicit timeouts; retries connection errors, 429 and 5xx with backoff."""

    session: requests.Session
    attempts: int = 3
    backoff: float = 0.5
    timeout: tuple[float, float] = (3.05, 10.0)
    sleep: Callable[[float], None] = time.sleep

    def post(self, channel: str, url: str, body: bytes, headers: dict[str, str]) -> None:
        """Deliver ``body`` or raise ``NotificationError``."""
        problem = "no attempt"
        for attempt in range(1, self.attempts + 1):
            try:
                response = self.session.post(
                    url, data=body, headers=headers, timeout=self.timeout, allow_redirects=False
                )
            except requests.RequestException as exc:
                problem = type(exc).__name__
            else:
                if 200 <= response.status_code < 300:
                    return
                problem = f"HTTP {response.status_code}"
                if response.status_code not in RETRY_STATUSES:
                    break
            if attempt < self.attempts:
                self.sleep(self.backoff * 2 ** (attempt - 1))
        raise NotificationError(f"channel {channel}: {problem}")
