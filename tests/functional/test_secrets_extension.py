"""Secrets through a stand-in for the Parameters and Secrets extension on loopback."""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from geminidb_patcher.secrets import ExtensionSecrets, SecretsError

SECRET = {"HUAWEICLOUD_SDK_AK": "AKEXAMPLE", "HUAWEICLOUD_SDK_SK": "sk-example", "WEBHOOK_SECRET": "whsec_a whsec_b"}


@pytest.fixture
def extension() -> Iterator[tuple[int, list[dict[str, str]]]]:
    calls: list[dict[str, str]] = []

    class Extension(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            calls.append({"path": self.path, "token": self.headers.get("X-Aws-Parameters-Secrets-Token", "")})
            body = json.dumps({"Name": "patcher", "SecretString": json.dumps(SECRET)}).encode()
            self.send_response(200 if "secretId=patcher" in self.path else 400)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Extension)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1], calls
    server.shutdown()
    server.server_close()


def test_extension_secrets_are_fetched_with_session_token_and_cached(extension: tuple[int, list[Any]]) -> None:
    port, calls = extension
    now = [0.0]
    environ = {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port), "AWS_SESSION_TOKEN": "session-token"}
    source = ExtensionSecrets("patcher", environ, requests.Session(), clock=lambda: now[0])
    values = source.get()
    assert (values.huaweicloud_sdk_ak, values.webhook_secrets()) == ("AKEXAMPLE", ["whsec_a", "whsec_b"])
    source.get()
    assert len(calls) == 1 and calls[0]["token"] == "session-token"
    now[0] = 301.0
    source.get()
    assert len(calls) == 2
    assert "sk-example" not in repr(values)


def test_extension_error_names_no_secret(extension: tuple[int, list[Any]]) -> None:
    port, _ = extension
    source = ExtensionSecrets("other", {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port)}, requests.Session())
    with pytest.raises(SecretsError, match="HTTP 400"):
        source.get()
