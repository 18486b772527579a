"""The local tools under bad input: ``serve`` (raw HTTP), ``invoke``, the simulator's command, and a hostile sweep."""

from __future__ import annotations

import contextlib
import io
import itertools
import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.gateway_server import LocalGateway
from geminidb_local.lambda_shim import make_handler
from geminidb_local.simulator import Simulator
from geminidb_patcher.entrypoints.cli.main import main as cli_main
from tests.helpers import EVENTS, fleet_document

SECRET = new_webhook_secret()
SWEEP_REQUESTS = 300
SWEEP_COMMANDS = 150


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(fleet_document(4)) as running:
        yield running


@pytest.fixture(scope="module")
def environ(sim: Simulator) -> dict[str, str]:
    env = simulator_environment(sim, webhook_secret=SECRET)
    env.pop("NOTIFY_WEBHOOK_URL")
    return env


@pytest.fixture(scope="module")
def seen() -> dict[str, Any]:
    """What the handler received last (a wrapper records it)."""
    return {}


@pytest.fixture(scope="module")
def gateway(environ: dict[str, str], seen: dict[str, Any]) -> Iterator[tuple[str, int]]:
    real = make_handler(environ)

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen["event"] = event
        if event.get("rawPath") == "/crash":
            raise RuntimeError("boom")
        return real(event, context)

    with LocalGateway(handler) as local, contextlib.redirect_stdout(io.StringIO()):
        host, port = local.base_url.removeprefix("http://").split(":")
        yield host, int(port)


def exchange(address: tuple[str, int], raw: bytes, timeout: float = 5.0) -> bytes:
    """Send raw bytes, read until the server closes or stops sending."""
    with socket.create_connection(address, timeout=timeout) as connection:
        connection.sendall(raw)
        connection.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(TimeoutError, ConnectionResetError):
            while chunk := connection.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


def status_and_body(answer: bytes) -> tuple[int, Any]:
    head, _, body = answer.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, json.loads(body) if body else None


@pytest.mark.parametrize(("length", "status"), [("abc", 400), ("-1", 400), (str(2 * 1024 * 1024), 413), ("1.5", 400)])
def test_bad_content_lengths_get_a_json_answer_and_no_hang(gateway: tuple[str, int], length: str, status: int) -> None:
    answer = exchange(gateway, f"POST /runs HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n{{}}".encode())
    got, body = status_and_body(answer)
    assert got == status and isinstance(body, dict) and body["message"]


def test_a_crashing_handler_is_a_502_json_answer(gateway: tuple[str, int]) -> None:
    got, body = status_and_body(exchange(gateway, b"GET /crash HTTP/1.1\r\nHost: x\r\n\r\n"))
    assert got == 502 and body == {"message": "Internal Server Error"}


def test_repeated_headers_are_joined_with_commas_as_api_gateway_does(
    gateway: tuple[str, int], seen: dict[str, Any]
) -> None:
    exchange(
        gateway,
        b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1.1.1.1\r\nX-Forwarded-For: 2.2.2.2\r\n\r\n",
    )
    assert seen["event"]["headers"]["x-forwarded-for"] == "1.1.1.1,2.2.2.2"


def test_other_methods_reach_the_function_and_are_refused_as_json(gateway: tuple[str, int]) -> None:
    for method in ("PUT", "DELETE", "PATCH"):
        got, body = status_and_body(exchange(gateway, f"{method} /runs HTTP/1.1\r\nHost: x\r\n\r\n".encode()))
        assert got == 401 and body["error"] == "unauthorized"


def local(*argv: str, environ: dict[str, str] | None = None, module: str = "geminidb_local") -> Any:
    return subprocess.run(
        [sys.executable, "-m", module, *argv],
        capture_output=True,
        text=True,
        env={**os.environ, **(environ or {})},
        timeout=60,
        check=False,
    )


def test_a_port_in_use_is_a_one_line_error(environ: dict[str, str]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        for module, argv in (
            ("geminidb_local", ["serve", "--port", port]),
            ("geminidb_local.simulator", ["--port", port]),
        ):
            result = local(*argv, environ=environ, module=module)
            assert result.returncode == 2, result.stderr
            assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "cannot read"),
        ("{not json", "is not JSON"),
        ("[1]", "must hold a JSON object"),
        ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    ],
)
def test_invoke_with_a_missing_or_invalid_event_file(
    tmp_path: Path, environ: dict[str, str], content: str | None, message: str
) -> None:
    path = tmp_path / "event.json"
    if content is not None:
        path.write_text(content)
    result = local("invoke", str(path), environ=environ)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_invoke_sign_keeps_the_events_own_route(environ: dict[str, str]) -> None:
    result = local("invoke", "--sign", str(EVENTS / "webhook-openapi.json"), environ=environ)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["statusCode"] == 200 and "openapi" in json.loads(answer["body"])
    assert "No application metrics" not in result.stderr
    run = local("invoke", "--sign", str(EVENTS / "webhook-run.json"), environ=environ)
    assert json.loads(json.loads(run.stdout)["body"])["mode"] == "plan"


# -- the hostile sweep ----------------------------------------------------------------------------------------

_methods = st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "BREW", "get", ""])
_paths = st.sampled_from(["/runs", "/openapi.json", "/prod/runs", "/", "/%00", "/runs?x=1", "//runs", "*"]) | st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=30
).map(lambda text: "/" + text)
_header_lines = st.lists(
    st.sampled_from(
        [
            b"Content-Type: application/json",
            b"Content-Type: APPLICATION/JSON",
            b"Content-Length: 5",
            b"Content-Length: abc",
            b"Content-Length: -7",
            b"Content-Length: 99999999",
            b"webhook-id: x",
            b"webhook-timestamp: 1",
            b"webhook-signature: v1,AAAA",
            b"Transfer-Encoding: chunked",
            b"X-Dup: a",
            b"X-Dup: b",
            b"Broken header line",
        ]
    ),
    max_size=6,
)
_bodies = st.binary(max_size=300) | st.just(b'{"mode": "apply"}')


@pytest.mark.slow
@settings(
    max_examples=SWEEP_REQUESTS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    method=_methods,
    path=_paths,
    headers=_header_lines,
    body=_bodies,
    version=st.sampled_from([b"HTTP/1.1", b"HTTP/1.0", b"HTTP/9"]),
)
def test_hostile_sweep_of_serve_never_crashes_or_hangs_it(
    gateway: tuple[str, int], method: str, path: str, headers: list[bytes], body: bytes, version: bytes
) -> None:
    request = f"{method} {path} ".encode() + version + b"\r\nHost: x\r\n" + b"\r\n".join(headers)
    answer = exchange(gateway, request + b"\r\n\r\n" + body)
    if answer.startswith(b"HTTP/"):  # else closed, or an HTTP/0.9-style bare refusal of an unparsable request line
        status = int(answer.split(b" ", 2)[1])
        assert status < 500 or status in (501, 505), answer[:200]
        head, _, rest = answer.partition(b"\r\n\r\n")
        lengths = [
            line.split(b":", 1)[1] for line in head.lower().split(b"\r\n") if line.startswith(b"content-length:")
        ]
        payload = rest[: int(lengths[0])] if lengths else rest  # the first answer (a body without a length is
        if payload and method.upper() != "HEAD":  # read as a second, pipelined request)
            assert isinstance(json.loads(payload), dict), answer[:300]  # every answer is JSON
    # and it still serves a well-formed request afterwards
    got, _ = status_and_body(exchange(gateway, b"GET /openapi.json HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))
    assert got == 200


_cli_args = st.lists(
    st.sampled_from(
        [
            "plan", "apply", "status", "--yes", "--output", "json", "table", "--target", "ap-southeast-1/" + "0" * 32,
            "x/y", "--instance-id", "nope", "--engine", "redis", "mongodb", "--name", "*", "--tag", "k=v", "=",
            "--window", "instance", "{bad", "--max-in-flight", "101%", "5", "--max-errors", "-1", "--lookback",
            "PT1H", "--lookback=-PT1H", "--request", "/nonexistent", "--expected-plan-id", "p-0", "--verbose",
        ]
    ),
    max_size=7,
)  # fmt: skip


@pytest.mark.slow
@settings(
    max_examples=SWEEP_COMMANDS,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(argv=_cli_args)
def test_hostile_sweep_of_the_cli_gives_an_exit_code_never_a_traceback(
    environ: dict[str, str], argv: list[str]
) -> None:
    out, err = io.StringIO(), io.StringIO()
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            code = cli_main(argv, environ, out=out, err=err, confirm=lambda prompt: False)
    except SystemExit as exit_:  # argparse refusing the command line
        code = exit_.code if isinstance(exit_.code, int) else 2
    assert code in (0, 1, 2, 3, 4, 5)
    asked_json = any(a == "--output" and b == "json" for a, b in itertools.pairwise(argv))
    if code in (0, 1) and asked_json and out.getvalue():
        json.loads(out.getvalue())  # stdout is the JSON and nothing else


@pytest.mark.parametrize("length", ["abc", "-1", str(64 * 1024 * 1024)])
def test_the_simulator_refuses_a_bad_content_length_too(sim: Simulator, length: str) -> None:
    address = ("127.0.0.1", int(sim.base_url.rsplit(":", 1)[1]))
    got, body = status_and_body(
        exchange(address, f"GET /v3/x/jobs HTTP/1.1\r\nContent-Length: {length}\r\n\r\n".encode())
    )
    assert got == 400 and body["error_code"] == "APIG.0201"
