"""What the Lambda service and API Gateway would hand the function: a context and HTTP API v2 events."""

from __future__ import annotations

import base64
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.signatures import sign_headers
from geminidb_patcher.entrypoints.handler import Handler, make_scheduled_handler, make_webhook_handler


@dataclass
class LocalContext:
    """A Lambda context with a real deadline."""

    timeout_ms: int = 900_000
    function_name: str = "geminidb-patcher-local"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:ap-southeast-1:000000000000:function:geminidb-patcher-local"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    log_group_name: str = "/aws/lambda/geminidb-patcher-local"
    log_stream_name: str = "local"
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        """Milliseconds until the simulated timeout."""
        return max(0, self.timeout_ms - int((time.monotonic() - self._started) * 1000))


def http_api_event(
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    query: str = "",
) -> dict[str, Any]:
    """An API Gateway HTTP API payload v2 event, as API Gateway builds it (lower-case header names)."""
    lowered = {name.lower(): value for name, value in (headers or {}).items()}
    try:
        text, encoded = body.decode("utf-8"), False
    except UnicodeDecodeError:
        text, encoded = base64.b64encode(body).decode(), True
    now = datetime.now(UTC)
    return {
        "version": "2.0",
        "routeKey": f"{method} {path}",
        "rawPath": path,
        "rawQueryString": query,
        "headers": lowered,
        "requestContext": {
            "accountId": "000000000000",
            "apiId": "local",
            "domainName": "localhost",
            "domainPrefix": "localhost",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "127.0.0.1",
                "userAgent": lowered.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex,
            "routeKey": f"{method} {path}",
            "stage": "$default",
            "time": now.strftime("%d/%b/%Y:%H:%M:%S +0000"),
            "timeEpoch": int(now.timestamp() * 1000),
        },
        "body": text,
        "isBase64Encoded": encoded,
    }


def signed_run_event(
    secret: str,
    body: bytes,
    *,
    msg_id: str | None = None,
    method: str = "POST",
    path: str = "/runs",
    content_type: str = "application/json",
) -> dict[str, Any]:
    """A request (by default ``POST /runs``) signed now, as a Standard Webhooks sender signs it."""
    headers = {
        "content-type": content_type,
        **sign_headers(secret, msg_id or f"msg_{uuid.uuid4().hex}", int(time.time()), body),
    }
    return http_api_event(method, path, body, headers)


def is_http_event(event: Mapping[str, Any]) -> bool:
    """API Gateway HTTP API payload v2 events carry ``version`` 2.0 and a ``requestContext``."""
    return event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict)


def make_handler(environ: Mapping[str, str], wiring: Wiring | None = None) -> Handler:
    """One callable for both functions, for local tools and tests: it routes by the event's shape.

    In Lambda each function has its own handler and never guesses; a local runner serves both from one process.
    """
    scheduled = make_scheduled_handler(environ, wiring)
    webhook = make_webhook_handler(environ, wiring)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return webhook(event, context) if is_http_event(event) else scheduled(event, context)

    return handler
