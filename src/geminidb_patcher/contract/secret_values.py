"""The secrets a deployment provides, by name: a value type every layer may read, never print."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

from geminidb_patcher.contract.approval import approval_key
from geminidb_patcher.contract.signatures import is_webhook_secret


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
    approval_secret: str | None = None
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

    def approval_keys(self) -> list[bytes]:
        """The keys of the well-formed approval secrets (space-separated while one is rotated; the first signs)."""
        keys = [approval_key(secret) for secret in (self.approval_secret or "").split()]
        return [key for key in keys if key is not None]

    def all_values(self) -> list[str]:
        """Every non-empty secret value, for redaction checks."""
        plain = [value for f in fields(self) if f.name != "notify_values" and (value := getattr(self, f.name))]
        return plain + [value for _, value in self.notify_values]
