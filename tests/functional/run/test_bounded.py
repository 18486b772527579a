"""Slow, huge or throttling peers on loopback: every run ends before its deadline, with its report logged.

A peer here is a raw socket server, so it can misbehave in ways an HTTP framework would not let it: drip its answer
one byte at a time, or send a body far larger than any legitimate answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Simulator
from tests.helpers import Sleeps, fleet_document, handler_on

SECRET = new_webhook_secret()
DRIP_PAUSE = 0.25


class Peer:
    """A loopback server that answers every connection with ``answer(connection)``; counts the requests."""

    def __init__(self, answer: Callable[[socket.socket, threading.Event], None]) -> None:
        self._answer = answer
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self._server.settimeout(0.1)
        self._stop = threading.Event()
        self.requests = 0
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.getsockname()[1]}"

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self._server.accept()
            except TimeoutError:
                continue
            self.requests += 1
            threading.Thread(target=self._one, args=(connection,), daemon=True).start()

    def _one(self, connection: socket.socket) -> None:
        with connection, contextlib.suppress(OSError):
            connection.settimeout(5)
            connection.recv(65_536)  # the request (small enough for one read here)
            self._answer(connection, self._stop)

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(1)
        self._server.close()


def drip(connection: socket.socket, stop: threading.Event) -> None:
    """A status line, then one header byte every ``DRIP_PAUSE`` seconds, forever: no read ever times out."""
    connection.sendall(b"HTTP/1.1 200 OK\r\n")
    while not stop.wait(DRIP_PAUSE):
        connection.sendall(b"X")


def huge(connection: socket.socket, stop: threading.Event) -> None:
    """200 with a JSON body of 40 MB, no Content-Length (read until the connection closes)."""
    connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n")
    connection.sendall(b'{"instances": [' + b'{"id": "x"},' * 1024)
    chunk = b" " * 1_048_576
    for _ in range(40):
        if stop.is_set():
            return
        connection.sendall(chunk)


def throttled(connection: socket.socket, stop: threading.Event) -> None:
    """429 asking to come back in 30 s."""
    connection.sendall(b"HTTP/1.1 429 Too Many Requests\r\nRetry-After: 30\r\nContent-Length: 0\r\n\r\n")


@pytest.fixture
def logs(capsys: pytest.CaptureFixture[str]) -> Iterator[Callable[[], str]]:
    captured: list[str] = []

    def read() -> str:
        captured.append(capsys.readouterr().out)
        return "".join(captured)

    yield read


def records(out: Callable[[], str], message: str) -> list[dict[str, Any]]:
    found = [json.loads(line) for line in out().splitlines() if line.startswith("{")]
    return [record for record in found if record.get("message") == message]


def test_a_dripping_huawei_api_ends_the_run_before_its_deadline_with_the_report(logs: Callable[[], str]) -> None:
    with Simulator(fleet_document(3)) as simulator, Peer(drip) as peer:
        handler = handler_on(simulator, SECRET, GEMINIDB_ENDPOINT=peer.url, DEADLINE_MARGIN_MS="2000")
        context = LocalContext(timeout_ms=6_000)
        report = handler({"mode": "apply", "window": "anytime"}, context)
        assert context.get_remaining_time_in_millis() > 0  # answered before the deadline
        (error,) = report["errors"]
        assert "no complete answer from 127.0.0.1" in error["error_message"]
        assert report["complete"] is False and len(records(logs, "run_report")) == 1


def test_a_dripping_channel_is_cut_off_before_the_deadline_and_the_report_is_logged(logs: Callable[[], str]) -> None:
    with Simulator(fleet_document(3)) as simulator, Peer(drip) as peer:
        environ = {"NOTIFY_WEBHOOK_URL": f"{peer.url}/hook", "DEADLINE_MARGIN_MS": "2000"}
        handler = handler_on(simulator, SECRET, **environ)
        context = LocalContext(timeout_ms=6_000)
        report = handler({"mode": "plan", "window": "anytime", "max_in_flight": "100%"}, context)
        assert context.get_remaining_time_in_millis() > 0
        assert report["counts"]["planned"] == 3 and len(records(logs, "run_report")) == 1
        (failed,) = records(logs, "notification_failed")
        assert "no complete answer" in json.dumps(failed)


def test_a_channel_asking_to_retry_after_30_s_is_not_waited_past_the_deadline(logs: Callable[[], str]) -> None:
    with Simulator(fleet_document(3)) as simulator, Peer(throttled) as peer:
        sleeps = Sleeps()
        environ = simulator_environment(simulator, webhook_secret=SECRET)
        handler = handler_on(simulator, SECRET, sleep=sleeps, NOTIFY_WEBHOOK_URL=f"{peer.url}/hook")
        context = LocalContext(timeout_ms=20_000)  # less than the 30 s asked for
        report = handler({"mode": "plan", "window": "anytime", "max_in_flight": "100%"}, context)
        assert 30.0 not in sleeps and peer.requests == 1  # not waited, not sent again
        assert report["counts"]["planned"] == 3 and records(logs, "notification_failed")
        assert environ  # the simulator's own channel is replaced by the throttling one


def test_a_huge_answer_is_refused_after_the_limit_and_read_once(logs: Callable[[], str]) -> None:
    with Simulator(fleet_document(3)) as simulator, Peer(huge) as peer:
        handler = handler_on(simulator, SECRET, sleep=Sleeps(), GEMINIDB_ENDPOINT=peer.url)
        report = handler({"mode": "apply", "window": "anytime"}, LocalContext(timeout_ms=60_000))
        (error,) = report["errors"]
        assert error["error_code"] == "ResponseTooLarge" and "larger than 16777216 bytes" in error["error_message"]
        listing = peer.requests  # the scheduled-task and job reads go to the same host
        assert listing <= 4 and report["complete"] is False
