"""The simulator's HTTP layer on 127.0.0.1: requests in, faults fired, answers out; what each answer says is
``responses`` (GeminiDB, IAM), ``smn``, ``control`` (``/_sim/``) and ``receivers`` (the channels)."""

from __future__ import annotations

import dataclasses
import json
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qsl, urlsplit

from geminidb_local.simulator.backend import Backend
from geminidb_local.simulator.clock import SimClock
from geminidb_local.simulator.control import CONTROL_PREFIX, control
from geminidb_local.simulator.faults import Fault
from geminidb_local.simulator.fleet import Fleet, parse_fleet
from geminidb_local.simulator.gateway import Gateway
from geminidb_local.simulator.receivers import KINDS, check, throttled
from geminidb_local.simulator.responses import API_PATH, route_name
from geminidb_local.simulator.responses import answer as respond
from geminidb_local.simulator.state import Exchange, SimulatorState

CHANNEL_PREFIX = "/_sim/channels/"
_READY_TIMEOUT = 5.0
MAX_REQUEST_BYTES = 8 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stalls
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet: requests are recorded, not printed."""

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self._dispatch()

    def do_POST(self) -> None:
        """Dispatch a POST."""
        self._dispatch()

    def do_DELETE(self) -> None:
        """Dispatch a DELETE."""
        self._dispatch()

    def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = b"" if body is None else json.dumps(body).encode()
        self._send_raw(status, payload, headers)

    def _send_raw(
        self, status: int, payload: bytes, headers: dict[str, str] | None = None, length: int | None = None
    ) -> None:
        self.send_response(status)
        if "Content-Type" not in (headers or {}):
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload) if length is None else length))
        self.send_header("X-Request-Id", uuid.uuid4().hex)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _drop(self) -> None:
        self.close_connection = True
        self.connection.close()

    def _dispatch(self) -> None:
        state = self.server.state
        url = urlsplit(self.path)
        declared = self.headers.get("Content-Length") or "0"
        if not declared.isdigit() or int(declared) > MAX_REQUEST_BYTES:
            self.close_connection = True
            self._send(
                400, {"error_code": "APIG.0201", "error_msg": "Invalid Content-Length."}, {"Connection": "close"}
            )
            return
        length = int(declared)
        raw = self.rfile.read(length) if length else b""
        if url.path.startswith(CHANNEL_PREFIX):
            self._channel(state, url.path[len(CHANNEL_PREFIX) :], dict(parse_qsl(url.query)), raw)
            return
        if url.path.startswith(CONTROL_PREFIX):
            self._control(state, url.path[len(CONTROL_PREFIX) :], raw)
            return
        with state.lock:
            state.in_flight += 1
            state.peak_in_flight = max(state.peak_in_flight, state.in_flight)
        try:
            self._api(state, url, raw)
        finally:
            with state.lock:
                state.in_flight -= 1

    def _api(self, state: SimulatorState, url: SplitResult, raw: bytes) -> None:
        if state.latency:
            time.sleep(state.latency)
        query = dict(parse_qsl(url.query, keep_blank_values=True))
        api = API_PATH.match(url.path)
        route = f"{self.command} {route_name(api)}" if api else f"{self.command} {url.path.removeprefix('/v3')}"
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        exchange = Exchange(self.command, url.path, route, query, body, sorted(h.lower() for h in self.headers))
        with state.lock:
            state.exchanges.append(exchange)
        fault = state.faults.take(route)
        if fault and fault.kind == "delay":
            time.sleep(fault.delay)
            fault = None
        elif fault and fault.kind == "expire_tokens":
            state.gateway.revoke_tokens()
            fault = None
        elif fault and fault.kind == "new_instance":
            state.backend.add_instance()
            fault = None
        elif fault and fault.kind == "remove_instance":
            state.backend.remove_newest_instance()
            fault = None
        if fault and fault.kind == "echo":
            exchange.status = fault.status
            echoed = f"bad request: {raw.decode('utf-8', 'replace')} {dict(self.headers.items())}"
            self._fire(
                Fault(fault.route, "status", status=fault.status, body={"error_code": "APIG.0201", "error_msg": echoed})
            )
            return
        if fault and fault.kind in ("status", "drop", "malformed", "truncated"):
            exchange.status = fault.status if fault.kind == "status" else 0
            self._fire(fault)
            return
        status, answer, headers = respond(
            state, self.command, dict(self.headers), url.path, url.query, query, raw, body, api
        )
        exchange.status = status
        if fault and fault.kind == "accept_then_drop":
            self._drop()
            return
        if fault and fault.kind == "accept_then_status":
            exchange.status = fault.status
            self._fire(dataclasses.replace(fault, kind="status"))
            return
        self._send(status, answer, headers)

    def _fire(self, fault: Fault) -> None:
        if fault.kind == "status":
            body = fault.body or {
                "error_code": "DBS.200998" if fault.status >= 500 else "APIG.0308",
                "error_msg": "Injected fault.",
            }
            self._send(fault.status, body, fault.headers)
        elif fault.kind == "malformed":
            self._send_raw(fault.status if fault.status < 300 else 200, b"{'not': json", fault.headers)
        elif fault.kind == "truncated":
            self._send_raw(200, b'{"instances": [', fault.headers, length=4096)
            self._drop()
        else:
            self._drop()

    def _channel(self, state: SimulatorState, where: str, query: dict[str, str], raw: bytes) -> None:
        """A vendor-faithful notification receiver at ``/_sim/channels/{kind}/{name}``."""
        kind, _, name = where.partition("/")
        if kind not in KINDS or not name:
            self._send(404, {"error": f"no receiver {where}"})
            return
        headers = {key.lower(): value for key, value in self.headers.items()}
        with state.lock:
            planned = state.receivers.failures.get(name) or []
            failure = planned.pop(0) if planned else None
            secret = state.receivers.secrets.get(name)
        if failure == "throttled":
            status, answer = throttled(kind)
        elif failure:
            status, answer = int(failure), {"error": "injected"}
        else:
            status, answer = check(kind, raw, query, headers, secret)
        try:
            body: Any = json.loads(raw)
        except ValueError:
            body = raw.decode("utf-8", "replace")
        with state.lock:
            state.inbox.append(
                {
                    "channel": name,
                    "kind": kind,
                    "status": status,
                    "answer": answer,
                    "query": query,
                    "headers": headers,
                    "body": body,
                }
            )
        if isinstance(answer, str):
            self._send_raw(status, answer.encode(), {"Content-Type": "text/plain"})
        else:
            self._send(status, answer)

    def _control(self, state: SimulatorState, action: str, raw: bytes) -> None:
        try:
            body = json.loads(raw) if raw else {}
            status, answer = control(state, self.command, action, body)
        except (ValueError, TypeError, KeyError) as exc:
            status, answer = 400, {"error": str(exc)}
        self._send(status, answer)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, state: SimulatorState, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.state = state

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (timeouts, fault tests) is not an error of the simulator."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class Simulator:
    """A running simulator on 127.0.0.1; use as a context manager or call ``start``/``stop``."""

    def __init__(self, fleet: Fleet | dict[str, Any] | None = None, *, port: int = 0, latency: float = 0.0) -> None:
        parsed = fleet if isinstance(fleet, Fleet) else parse_fleet(fleet or {"instances": []})
        clock = SimClock()
        self.state = SimulatorState(
            backend=Backend(parsed, clock),
            gateway=Gateway(parsed.credentials, clock, project_mismatch=parsed.behaviour.project_mismatch),
            clock=clock,
            latency=latency,
        )
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def fleet(self) -> Fleet:
        """The fleet the simulator was started with."""
        return self.state.backend.fleet

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` once started."""
        if self._server is None:
            raise RuntimeError("the simulator is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> Simulator:
        """Bind and serve in a background thread; returns once the socket accepts connections."""
        self.bind()
        ready = threading.Event()

        def serve() -> None:
            ready.set()
            assert self._server is not None
            self._server.serve_forever(poll_interval=0.05)

        self._thread = threading.Thread(target=serve, name="geminidb-simulator", daemon=True)
        self._thread.start()
        if not ready.wait(_READY_TIMEOUT):
            raise RuntimeError("the simulator did not start")
        return self

    def stop(self) -> None:
        """Stop serving and release the port."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(_READY_TIMEOUT)
        self._server = self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def bind(self) -> str:
        """Bind without serving yet, so the caller can print the address first."""
        self._server = _Server(self.state, self._port)
        return self.base_url

    def serve_bound(self) -> None:
        """Serve on the socket ``bind`` opened, until interrupted."""
        assert self._server is not None
        try:
            self._server.serve_forever(poll_interval=0.2)
        finally:
            self._server.server_close()

    @property
    def exchanges(self) -> list[Exchange]:
        """Every API request received so far."""
        with self.state.lock:
            return list(self.state.exchanges)

    @property
    def inbox(self) -> list[dict[str, Any]]:
        """Every notification POSTed to ``/_sim/inbox/{channel}``."""
        with self.state.lock:
            return list(self.state.inbox)
