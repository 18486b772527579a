"""One JSON-over-HTTPS exchange: authenticate, send with explicit timeouts, translate failures."""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import requests

from geminidb_patcher import __version__
from geminidb_patcher.huawei.auth import Authenticator
from geminidb_patcher.huawei.errors import ProtocolError, ResponseTooLargeError, TransportError, error_for_status
from geminidb_patcher.huawei.signer import canonical_query
from geminidb_patcher.retry import request_was_sent
from geminidb_patcher.transport import BodyTooLargeError, CallExpiredError, Deadline, bounded_call, read_capped

JSON_CONTENT_TYPE = "application/json"
MAX_ANSWER_BYTES = 16 * 1024 * 1024
"""The largest answer read: a ListInstances page of 100 instances with many nodes is about 2 MB; an answer beyond
this limit is refused as a protocol error and never read again."""
USER_AGENT = f"geminidb-patcher/{__version__}"


@dataclass(frozen=True)
class Timeouts:
    """Connect and read timeouts, in seconds, for every call."""

    connect: float = 3.05
    read: float = 20.0

    def capped(self, time_left: float | None) -> tuple[float, float]:
        """``(connect, read)``, neither longer than ``time_left`` seconds (at least 0.1 s)."""
        if time_left is None:
            return self.connect, self.read
        cap = max(0.1, time_left)
        return min(self.connect, cap), min(self.read, cap)

    def total(self, time_left: float | None) -> float:
        """The whole call's time: connect plus read, never beyond ``time_left``; a dripping peer gets no more."""
        whole = self.connect + self.read
        return whole if time_left is None else max(0.1, min(whole, time_left))


@dataclass(frozen=True)
class JsonResponse:
    """A successful answer."""

    status: int
    headers: Mapping[str, str]
    body: Any


class JsonHttp:
    """Sends JSON requests on one shared session and raises only ``HuaweiError`` subclasses."""

    def __init__(
        self,
        session: requests.Session,
        timeouts: Timeouts,
        clock: Callable[[], datetime],
        max_in_flight: int | None = None,
        deadline: Deadline | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self._session = session
        self._timeouts = timeouts
        self._clock = clock
        self._deadline = deadline or Deadline()
        self._max_answer_bytes = max_answer_bytes
        self._slots: contextlib.AbstractContextManager[Any] = (
            threading.BoundedSemaphore(max_in_flight) if max_in_flight else contextlib.nullcontext()
        )
        """At most ``max_in_flight`` exchanges at once, however the callers' thread pools nest; held only for the
        exchange itself (not while signing, fetching a token or waiting to retry), so it cannot deadlock."""

    def request(
        self,
        method: str,
        url: str,
        *,
        auth: Authenticator | None,
        query: list[tuple[str, str]] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        time_left: float | None = None,
    ) -> JsonResponse:
        """Send one request; 2xx with JSON (or empty) body → ``JsonResponse``, anything else raises.

        ``time_left`` (seconds; else the run's deadline) caps the whole call, however slowly the peer answers, so a
        call never outlives the caller's deadline; the body is read up to ``max_answer_bytes``, once.
        """
        if time_left is None:
            time_left = self._deadline.left()
        if query:
            url = f"{url}?{canonical_query(query)}"
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        send_headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT, **(headers or {})}
        if auth is not None:
            send_headers = auth.authenticate(method, url, send_headers, payload, self._clock())
        host = urlsplit(url).netloc.rpartition("@")[2]  # never a user or password from the URL
        try:
            with self._slots, bounded_call(self._timeouts.total(time_left)):
                response = self._session.request(
                    method,
                    url,
                    data=payload or None,
                    headers=send_headers,
                    timeout=self._timeouts.capped(time_left),
                    allow_redirects=False,
                    stream=True,
                )
                with response:
                    raw = read_capped(response, self._max_answer_bytes)
        except CallExpiredError as exc:
            raise TransportError(
                f"no complete answer from {host} in time ({exc})", request_sent=True, silent=True
            ) from None
        except BodyTooLargeError as exc:
            raise ResponseTooLargeError(
                f"{method} to {host}: {exc}; not read further", error_code="ResponseTooLarge"
            ) from None
        except requests.RequestException as exc:
            raise TransportError(
                f"{type(exc).__name__} during {method} to {host}",
                request_sent=request_was_sent(exc),
                silent=isinstance(exc, requests.ReadTimeout),
            ) from exc
        request_id = response.headers.get("X-Request-Id")
        if not 200 <= response.status_code < 300:
            raise error_for_status(response.status_code, raw, request_id, response.headers.get("Retry-After"))
        try:
            parsed = json.loads(raw) if raw.strip() else None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ProtocolError(
                f"HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
                request_id=request_id,
            ) from exc
        return JsonResponse(response.status_code, response.headers, parsed)


def require_object(response: JsonResponse, *keys: str) -> dict[str, Any]:
    """The body as a JSON object that has every key in ``keys``; ``ProtocolError`` otherwise."""
    body = response.body
    if not isinstance(body, dict) or any(key not in body for key in keys):
        raise ProtocolError(
            f"HTTP {response.status} body lacks {', '.join(keys) or 'a JSON object'}",
            status=response.status,
            request_id=response.headers.get("X-Request-Id"),
        )
    return body
