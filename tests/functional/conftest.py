"""A fresh simulator per test, and clients wired to it."""

from __future__ import annotations

import contextlib
import http.server
import json
import random
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from geminidb_local.simulator import Simulator
from geminidb_patcher.huawei.auth import AkSkAuth, Authenticator
from geminidb_patcher.huawei.client import GeminiDBClient
from geminidb_patcher.huawei.http import JsonHttp, Timeouts
from geminidb_patcher.huawei.retry import RetryPolicy
from geminidb_patcher.huawei.signer import AkSkSigner
from tests.conftest import make_instance


def utc_now() -> datetime:
    return datetime.now(UTC)


class Sleeps(list[float]):
    """A sleep that records instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def fleet_document(count: int = 5, seed: int = 0, **extra: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    engines = ["cassandra", "influxdb", "redis"]
    return {"instances": [make_instance(rng, engines[i % 3]) for i in range(count)], **extra}


@pytest.fixture
def simulator(request: pytest.FixtureRequest) -> Iterator[Simulator]:
    marker = request.node.get_closest_marker("fleet")
    document = marker.args[0] if marker else fleet_document()
    with Simulator(document) as running:
        yield running


def make_client(
    simulator: Simulator, sleeps: Sleeps, auth: Authenticator | None = None, timeouts: Timeouts | None = None
) -> GeminiDBClient:
    credentials = simulator.fleet.credentials
    http = JsonHttp(requests.Session(), timeouts or Timeouts(1.0, 2.0), utc_now)
    return GeminiDBClient(
        http=http,
        endpoint=simulator.base_url,
        project_id=credentials.project_id,
        auth=auth or AkSkAuth(AkSkSigner(credentials.ak, credentials.sk), credentials.project_id),
        retry=RetryPolicy(jitter=lambda ceiling: ceiling),
        sleep=sleeps,
    )


@pytest.fixture
def client(simulator: Simulator, sleeps: Sleeps) -> GeminiDBClient:
    return make_client(simulator, sleeps)


@contextlib.contextmanager
def secrets_extension(
    secret: Callable[[str], dict[str, str] | None],
) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """A stand-in for the Parameters and Secrets extension: ``secret(path)`` is the JSON secret, ``None`` a 400."""
    calls: list[dict[str, str]] = []

    class Extension(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append({"path": self.path, "token": self.headers.get("X-Aws-Parameters-Secrets-Token", "")})
            document = secret(self.path)
            body = json.dumps({"Name": "patcher", "SecretString": json.dumps(document or {})}).encode()
            self.send_response(200 if document is not None else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Extension)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_address[1], calls
    finally:
        server.shutdown()
        server.server_close()
