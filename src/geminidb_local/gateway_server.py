"""A local HTTP endpoint that turns requests into HTTP API v2 events for the real handler."""

from __future__ import annotations

import base64
import json
import sys
import threading
import traceback
from collections.abc import Callable, Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from geminidb_local.lambda_shim import LocalContext, http_api_event

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_BODY = 1_048_576


class _Gateway(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        """Forward a GET."""
        self._forward()

    def do_HEAD(self) -> None:
        """Forward a HEAD (the function answers without a body)."""
        self._forward()

    def do_POST(self) -> None:
        """Forward a POST."""
        self._forward()

    def do_PUT(self) -> None:
        """Forward a PUT (the function answers it: 401 unsigned, 404/405 signed)."""
        self._forward()

    def do_DELETE(self) -> None:
        """Forward a DELETE."""
        self._forward()

    def do_PATCH(self) -> None:
        """Forward a PATCH."""
        self._forward()

    def _forward(self) -> None:
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            self._refuse(400, "Content-Length must be a non-negative whole number")
            return
        length = int(raw_length)
        if length > MAX_BODY:
            self._refuse(413, "Request Entity Too Large")
            return
        body = self.rfile.read(length) if length else b""
        url = urlsplit(self.path)
        event = http_api_event(self.command, url.path, body, joined_headers(self.headers.items()), url.query)
        try:
            result = self.server.handler(event, LocalContext(timeout_ms=30_000))
        except Exception:  # a crash of the function: API Gateway answers 502, so does this endpoint
            traceback.print_exc(file=sys.stderr)
            self._refuse(502, "Internal Server Error")
            return
        payload = result.get("body") or ""
        raw = base64.b64decode(payload) if result.get("isBase64Encoded") else str(payload).encode()
        self._reply(int(result.get("statusCode", 502)), result.get("headers") or {}, raw)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard library's answer to an unparsable request, as JSON like every other answer."""
        self.close_connection = True
        if self.request_version == "HTTP/0.9" or not hasattr(self, "command"):
            super().send_error(code, message, explain)
            return
        self._refuse(code, message or self.responses.get(code, ("Error",))[0])

    def _refuse(self, status: int, message: str) -> None:
        """An answer of the gateway itself (API Gateway's shape); the connection is closed after it."""
        self.close_connection = True
        body = json.dumps({"message": message}).encode()
        self._reply(status, {"content-type": "application/json", "connection": "close"}, body)

    def _reply(self, status: int, headers: dict[str, str], raw: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(raw)


def joined_headers(items: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Header names lower-cased, repeated headers joined with commas, as API Gateway's v2 payload does."""
    joined: dict[str, str] = {}
    for name, value in items:
        key = name.lower()
        joined[key] = f"{joined[key]},{value}" if key in joined else value
    return joined


def _not_ready(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 503, "headers": {"content-type": "application/json"}, "body": '{"message":"not ready"}'}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, handler: Handler, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Gateway)
        self.handler = handler


class LocalGateway:
    """Serves the handler on 127.0.0.1 in a background thread.

    The address is taken at once; the handler may be given later (``handler``), so a function whose environment
    names its own public URL (``WEBHOOK_API_URL``) can be built after the port is known.
    """

    def __init__(self, handler: Handler = _not_ready, port: int = 0) -> None:
        self._server = _Server(handler, port)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="local-gateway", daemon=True
        )

    @property
    def handler(self) -> Handler:
        """What every request is handed to."""
        return self._server.handler

    @handler.setter
    def handler(self, handler: Handler) -> None:
        self._server.handler = handler

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> LocalGateway:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def serve_until_interrupted(self) -> None:
        """Serve in the calling thread."""
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()
