"""Standard Webhooks signatures: verify incoming requests, sign outgoing notifications."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass

from geminidb_patcher.errors import UnauthorizedError

SECRET_PREFIX = "whsec_"
MAX_ID_LENGTH = 256
MAX_SIGNATURES = 32
"""Signatures a ``webhook-signature`` header may list (one per secret while several are rotated); more is refused."""


class WebhookAuthError(UnauthorizedError):
    """A request failed verification; ``reason`` is for logs, never for the caller."""


def decode_secret(secret: str) -> bytes:
    """The key bytes of a ``whsec_…`` secret; its base64 may be unpadded, as the reference library accepts."""
    encoded = secret.removeprefix(SECRET_PREFIX)
    try:
        key = base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("a webhook secret is 'whsec_' followed by base64") from None
    if not key:
        raise ValueError("a webhook secret has key bytes after 'whsec_'")
    return key


def is_webhook_secret(secret: str) -> bool:
    """Whether ``secret`` is ``whsec_`` (optional) followed by non-empty base64."""
    try:
        return bool(decode_secret(secret))
    except ValueError:
        return False


def signature(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``v1,<base64>`` signature of ``{id}.{timestamp}.{body}``."""
    content = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(decode_secret(secret), content, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def sign_headers(secret: str, msg_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """The three headers a Standard Webhooks sender adds."""
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, msg_id, timestamp, body),
    }


@dataclass(frozen=True)
class VerifiedWebhook:
    """A request that passed verification."""

    msg_id: str
    timestamp: int


def verify(
    secrets: list[str],
    headers: Mapping[str, str],
    body: bytes,
    *,
    now: int,
    tolerance: int,
) -> VerifiedWebhook:
    """Check id, timestamp (± ``tolerance`` s) and one ``v1`` signature under any secret (rotation)."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id = lowered.get("webhook-id", "")
    stamp = lowered.get("webhook-timestamp", "")
    offered = lowered.get("webhook-signature", "")
    if not msg_id or not stamp or not offered:
        raise WebhookAuthError("missing_headers")
    if len(msg_id) > MAX_ID_LENGTH or not msg_id.isascii() or not msg_id.isprintable():
        raise WebhookAuthError("bad_id")
    if not (stamp.isascii() and stamp.isdigit() and len(stamp) <= 12):
        raise WebhookAuthError("bad_timestamp")
    timestamp = int(stamp)
    if abs(now - timestamp) > tolerance:
        raise WebhookAuthError("timestamp_outside_tolerance")
    if not secrets:
        raise WebhookAuthError("no_secret_configured")
    offered_parts = offered.split()
    if len(offered_parts) > MAX_SIGNATURES:
        raise WebhookAuthError("too_many_signatures")
    candidates = [part.split(",", 1)[1] for part in offered_parts if part.startswith("v1,")]
    for secret in secrets:
        expected = signature(secret, msg_id, timestamp, body).split(",", 1)[1]
        if any(hmac.compare_digest(expected.encode(), candidate.encode()) for candidate in candidates):
            return VerifiedWebhook(msg_id, timestamp)
    raise WebhookAuthError("signature_mismatch")
