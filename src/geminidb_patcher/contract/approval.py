"""Approval tokens: a reviewed plan's run request, its plan ID and expiry, sealed with an HMAC; no table.

A token is ``a1.<payload>.<mac>``: the payload is the compact JSON of the grant, deflated, in URL-safe base64 without
padding; the MAC is HMAC-SHA256 over ``a1.<payload>`` with the approval key, its first 16 bytes likewise encoded.
The MAC is checked before anything in the payload is read; a payload that inflates past 64 KiB is refused.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import ValidationError

from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.contract.signatures import decode_secret

VERSION = "a1"
MAC_BYTES = 16
MIN_KEY_BYTES = 32
MAX_PAYLOAD_BYTES = 65_536
MAX_TOKEN_CHARS = 4_096
"""Longer than any link we issue (about 2,000 characters in all); a longer path is refused before any work."""


class ApprovalTokenError(Exception):
    """A token that does not open: ``invalid`` (not ours, altered, malformed) or ``expired``; never says more."""

    def __init__(self, problem: Literal["invalid", "expired"]) -> None:
        super().__init__(problem)
        self.problem = problem


@dataclass(frozen=True)
class ApprovalGrant:
    """What a link lets its holder do: apply ``request`` (mode apply, pinned to ``plan_id``) until ``expires_at``."""

    request: RunRequest
    plan_id: str
    token_id: str
    issued_at: int
    """Unix seconds."""
    expires_at: int
    """Unix seconds."""

    def moment(self, which: Literal["issued_at", "expires_at"]) -> datetime:
        """``issued_at`` or ``expires_at`` as an aware UTC time."""
        return datetime.fromtimestamp(getattr(self, which), UTC)


def approval_key(secret: str) -> bytes | None:
    """The key of an ``APPROVAL_SECRET`` (``whsec_`` + base64 of at least 32 bytes), or ``None`` if it is not one."""
    try:
        key = decode_secret(secret)
    except ValueError:
        return None
    return key if len(key) >= MIN_KEY_BYTES else None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest()[:MAC_BYTES])


def seal(grant: ApprovalGrant, key: bytes) -> str:
    """The token of ``grant``, signed with ``key``."""
    compact: dict[str, Any] = {
        "r": grant.request.model_dump(mode="json", exclude_defaults=True),
        "p": grant.plan_id,
        "t": grant.token_id,
        "i": grant.issued_at,
        "e": grant.expires_at,
    }
    raw = json.dumps(compact, separators=(",", ":"), ensure_ascii=False).encode()
    signed = f"{VERSION}.{_b64(zlib.compress(raw, 9))}"
    return f"{signed}.{_mac(key, signed)}"


def unseal(token: str, keys: list[bytes], now: float) -> ApprovalGrant:
    """The grant of ``token`` if one of ``keys`` signed it and it has not expired; ``ApprovalTokenError`` otherwise."""
    if len(token) > MAX_TOKEN_CHARS or token.count(".") != 2 or not token.isascii():
        raise ApprovalTokenError("invalid")
    signed, _, mac = token.rpartition(".")
    if not signed.startswith(VERSION + ".") or not any(hmac.compare_digest(_mac(key, signed), mac) for key in keys):
        raise ApprovalTokenError("invalid")
    try:
        inflater = zlib.decompressobj()
        raw = inflater.decompress(_unb64(signed.partition(".")[2]), MAX_PAYLOAD_BYTES)
        if inflater.unconsumed_tail:
            raise ApprovalTokenError("invalid")
        compact = json.loads(raw)
        grant = ApprovalGrant(
            request=RunRequest.model_validate_json(json.dumps(compact["r"])),
            plan_id=str(compact["p"]),
            token_id=str(compact["t"]),
            issued_at=int(compact["i"]),
            expires_at=int(compact["e"]),
        )
    except (binascii.Error, zlib.error, ValueError, KeyError, TypeError, ValidationError):
        raise ApprovalTokenError("invalid") from None  # signed by us yet unreadable: a key shared with another tool
    if grant.request.mode != "apply" or grant.request.expected_plan_id != grant.plan_id:
        raise ApprovalTokenError("invalid")
    if now >= grant.expires_at:
        raise ApprovalTokenError("expired")
    return grant
