"""Secret values: from the environment locally, from the Parameters and Secrets extension in Lambda."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

import requests

from geminidb_patcher.contract.secret_values import SecretValues
from geminidb_patcher.errors import ConfigurationError

EXTENSION_PORT_ENV = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
CACHE_SECONDS = 300.0


class SecretsError(ConfigurationError):
    """Secrets could not be read; the message never holds a secret value."""


class SecretSource(Protocol):
    """Where secrets come from."""

    def get(self) -> SecretValues:
        """Current secret values."""
        ...


@dataclass(frozen=True)
class EnvironmentSecrets:
    """Secrets from environment variables (local runs, tests)."""

    environ: Mapping[str, str]

    def get(self) -> SecretValues:
        """Read the variables now."""
        return SecretValues.from_mapping(self.environ)


class ExtensionSecrets:
    """One Secrets Manager secret (a JSON object) through the Lambda extension on localhost.

    Fetched lazily, during an invocation (the extension refuses calls during init), and cached.
    """

    def __init__(
        self,
        secret_id: str,
        environ: Mapping[str, str],
        session: requests.Session,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._secret_id = secret_id
        self._environ = environ
        self._session = session
        self._clock = clock
        self._cached: tuple[float, SecretValues] | None = None
        self._lock = threading.Lock()

    def get(self) -> SecretValues:
        """The cached values, refreshed after ``CACHE_SECONDS``."""
        with self._lock:
            if self._cached and self._clock() - self._cached[0] < CACHE_SECONDS:
                return self._cached[1]
            values = self._fetch()
            self._cached = (self._clock(), values)
            return values

    def _fetch(self) -> SecretValues:
        port = self._environ.get(EXTENSION_PORT_ENV, "2773")
        token = self._environ.get("AWS_SESSION_TOKEN", "")
        try:
            response = self._session.get(
                f"http://localhost:{port}/secretsmanager/get",
                params={"secretId": self._secret_id},
                headers={EXTENSION_TOKEN_HEADER: token},
                timeout=(1.0, 5.0),
            )
        except requests.RequestException as exc:
            raise SecretsError(f"secrets extension unreachable ({type(exc).__name__})") from None
        if response.status_code != 200:
            raise SecretsError(f"secrets extension answered HTTP {response.status_code}")
        try:
            document = json.loads(response.json()["SecretString"])
        except (ValueError, KeyError, TypeError):
            raise SecretsError("the secret is not a JSON object in SecretString") from None
        if not isinstance(document, dict):
            raise SecretsError("the secret is not a JSON object in SecretString")
        return SecretValues.from_mapping(document)
