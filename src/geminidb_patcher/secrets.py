"""Secret values: from the environment locally, from the Parameters and Secrets extension in Lambda."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Protocol

import requests

from geminidb_patcher.errors import ConfigurationError
from geminidb_patcher.webhook_auth import decode_secret

EXTENSION_PORT_ENV = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
EXTENSION_TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"
CACHE_SECONDS = 300.0


class SecretsError(ConfigurationError):
    """Secrets could not be read; the message never holds a secret value."""


@dataclass(frozen=True)
class SecretValues:
    """Every secret the function may use; each field is read from the variable of the same upper-case name."""

    huaweicloud_sdk_ak: str | None = None
    huaweicloud_sdk_sk: str | None = None
    huaweicloud_sdk_security_token: str | None = None
    huaweicloud_auth_token: str | None = None
    huaweicloud_iam_user: str | None = None
    huaweicloud_iam_password: str | None = None
    huaweicloud_iam_domain: str | None = None
    huaweicloud_iam_agency_domain_id: str | None = None
    huaweicloud_iam_agency_name: str | None = None
    webhook_secret: str | None = None
    notify_webhook_secret: str | None = None
    notify_channels: str | None = None
    notify_values: tuple[tuple[str, str], ...] = ()
    """Every other ``NOTIFY_*`` value: channel URLs and signing secrets that channels refer to by name."""

    def __repr__(self) -> str:
        present = [f.name for f in fields(self) if getattr(self, f.name)]
        return f"SecretValues(present={present})"

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> SecretValues:
        """Pick the known names (upper case, as environment variables are written) out of ``values``."""
        picked: dict[str, object] = {}
        for field in fields(cls):
            value = values.get(field.name.upper())
            if isinstance(value, str) and value:
                picked[field.name] = value
        named = {field.name.upper() for field in fields(cls)}
        picked["notify_values"] = tuple(
            sorted(
                (key, value)
                for key, value in values.items()
                if key.startswith("NOTIFY_") and key not in named and isinstance(value, str) and value
            )
        )
        return cls(**picked)  # type: ignore[arg-type]

    def notify_value(self, name: str) -> str | None:
        """A ``NOTIFY_*`` value by its name."""
        named = name.lower()
        if named != "notify_values" and named in {f.name for f in fields(self)}:
            value = getattr(self, named)
            return value if isinstance(value, str) else None
        return dict(self.notify_values).get(name)

    def webhook_secrets(self) -> list[str]:
        """Every well-formed webhook secret: several, space-separated, while one is rotated."""
        return [secret for secret in (self.webhook_secret or "").split() if is_webhook_secret(secret)]

    def malformed_webhook_secrets(self) -> tuple[list[int], int]:
        """Positions (from 1) of the configured webhook secrets that are not ``whsec_`` + base64, and the count."""
        configured = (self.webhook_secret or "").split()
        return [n for n, secret in enumerate(configured, 1) if not is_webhook_secret(secret)], len(configured)

    def all_values(self) -> list[str]:
        """Every non-empty secret value, for redaction checks."""
        plain = [value for f in fields(self) if f.name != "notify_values" and (value := getattr(self, f.name))]
        return plain + [value for _, value in self.notify_values]


def is_webhook_secret(secret: str) -> bool:
    """Whether ``secret`` is ``whsec_`` (optional) followed by non-empty base64."""
    try:
        return bool(decode_secret(secret))
    except ValueError:
        return False


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
