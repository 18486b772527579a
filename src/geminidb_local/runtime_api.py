"""A small emulator of the Lambda Runtime API, so the real runtime interface client can drive the function locally.

It serves the calls a runtime client makes (``GET /2018-06-01/runtime/invocation/next``, then ``POST .../response``
or ``POST .../error`` for that request id, and ``POST /2018-06-01/runtime/init/error``) on 127.0.0.1, hands out
queued events one at a time with a deadline, and records every answer. Never deployed.
"""

from __future__ import annotations

import http.server
import json
import queue
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

PREFIX = "/2018-06-01/runtime"
FUNCTION_ARN = "arn:aws:lambda:ap-southeast-1:000000000000:function:geminidb-patcher-local"


@dataclass
class Answer:
    """What the function answered for one invocation: its response, or the error it reported."""

    request_id: str
    ok: bool
    body: Any


@dataclass
class RuntimeApiState:
    """Events waiting to be handed out, and the answers received."""

    timeout_ms: int
    pending: queue.Queue[tuple[str, dict[str, Any]]] = field(default_factory=queue.Queue)
    answers: dict[str, Answer] = field(default_factory=dict)
    init_error: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    answered: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.answered = threading.Condition(self.lock)


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, *args: Any) -> None:
        pass

    def _send(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the runtime client was stopped while it polled
            self.close_connection = True

    def do_GET(self) -> None:
        if self.path != f"{PREFIX}/invocation/next":
            self._send(404)
            return
        state = self.server.state
        while True:  # a runtime client waits here between invocations, as it does in Lambda
            try:
                request_id, event = state.pending.get(timeout=0.2)
                break
            except queue.Empty:
                if self.server.stopping.is_set():
                    self._send(410)
                    return
        deadline = int((time.time() * 1000) + state.timeout_ms)
        self._send(
            200,
            json.dumps(event).encode(),
            {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(deadline),
                "Lambda-Runtime-Invoked-Function-Arn": FUNCTION_ARN,
                "Lambda-Runtime-Trace-Id": f"Root=1-{uuid.uuid4().hex[:8]}-{uuid.uuid4().hex[:24]};Sampled=0",
            },
        )

    def do_POST(self) -> None:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        state = self.server.state
        parts = self.path.removeprefix(f"{PREFIX}/").split("/")
        with state.answered:
            if parts == ["init", "error"]:
                state.init_error = body
            elif len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
                state.answers[parts[1]] = Answer(parts[1], parts[2] == "response", body)
            else:
                self._send(404)
                return
            state.answered.notify_all()
        self._send(202, b'{"status": "OK"}', {"Content-Type": "application/json"})


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, state: RuntimeApiState) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.state = state
        self.stopping = threading.Event()


class RuntimeApi:
    """The emulator on a free loopback port; a context manager."""

    def __init__(self, timeout_ms: int = 600_000) -> None:
        self.state = RuntimeApiState(timeout_ms)
        self._server = _Server(self.state)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        host, port = self._server.socket.getsockname()[:2]
        return f"{host}:{port}"

    def invoke(self, event: dict[str, Any]) -> str:
        """Queue ``event``; returns its request id."""
        request_id = str(uuid.uuid4())
        self.state.pending.put((request_id, event))
        return request_id

    def answer(self, request_id: str, timeout: float) -> Answer | None:
        """The answer for ``request_id``, waiting up to ``timeout`` seconds; ``None`` if none came (or init failed)."""
        end = time.monotonic() + timeout
        with self.state.answered:
            while request_id not in self.state.answers and self.state.init_error is None:
                left = end - time.monotonic()
                if left <= 0:
                    return None
                self.state.answered.wait(left)
            return self.state.answers.get(request_id)

    def __enter__(self) -> RuntimeApi:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.stopping.set()
        self._server.shutdown()
        self._server.server_close()
