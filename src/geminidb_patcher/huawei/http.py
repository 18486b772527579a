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
from geminidb_patcher.huawei.errors import ProtocolError, TransportError, error_for_status
from geminidb_patcher.huawei.signer import canonical_query
from geminidb_patcher.retry import request_was_sent

JSON_CONTENT_TYPE = "application/json"
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
    ) -> None:
        self._session = session
        self._timeouts = timeouts
        self._clock = clock
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

        ``time_left`` (seconds) caps both timeouts, so a call never outlives the caller's deadline.
        """
        if query:
            url = f"{url}?{canonical_query(query)}"
        payload = b"" if body is None else json.dumps(body, separators=(",", ":")).encode()
        send_headers = {"Content-Type": JSON_CONTENT_TYPE, "User-Agent": USER_AGENT, **(headers or {})}
        if auth is not None:
            send_headers = auth.authenticate(method, url, send_headers, payload, self._clock())
        try:
            with self._slots:
                response = self._session.request(
                    method,
                    url,
                    data=payload or None,
                    headers=send_headers,
                    timeout=self._timeouts.capped(time_left),
                    allow_redirects=False,
                )
                raw = response.content
        except requests.RequestException as exc:
            raise TransportError(
                f"{type(exc).__name__} during {method} to {urlsplit(url).netloc}", request_sent=request_was_sent(exc)
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
