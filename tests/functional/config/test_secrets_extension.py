"""Secrets through a stand-in for the Parameters and Secrets extension on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import requests

from geminidb_patcher.config.secrets import ExtensionSecrets, SecretsError
from tests.helpers import secrets_extension

SECRET = {
    "HUAWEICLOUD_SDK_AK": "AKEXAMPLE",
    "HUAWEICLOUD_SDK_SK": "sk-example",
    "WEBHOOK_SECRET": "whsec_YWFhYQ== whsec_YmJiYg==",
}


@pytest.fixture
def extension() -> Iterator[tuple[int, list[dict[str, str]]]]:
    with secrets_extension(lambda path: SECRET if "secretId=patcher" in path else None) as running:
        yield running


def test_extension_secrets_are_fetched_with_session_token_and_cached(extension: tuple[int, list[Any]]) -> None:
    port, calls = extension
    now = [0.0]
    environ = {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port), "AWS_SESSION_TOKEN": "session-token"}
    source = ExtensionSecrets("patcher", environ, requests.Session(), clock=lambda: now[0])
    values = source.get()
    assert (values.huaweicloud_sdk_ak, values.webhook_secrets()) == ("AKEXAMPLE", ["whsec_YWFhYQ==", "whsec_YmJiYg=="])
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
