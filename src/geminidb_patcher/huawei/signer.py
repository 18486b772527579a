"""AK/SK request signing, ``SDK-HMAC-SHA256``, as Huawei's API gateway verifies it."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, unquote, urlsplit

ALGORITHM = "SDK-HMAC-SHA256"
DATE_HEADER = "X-Sdk-Date"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
CONTENT_SHA256_HEADER = "X-Sdk-Content-Sha256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
SIGNED_CONTENT_TYPES = ("application/json", "application/bson")
EMPTY_BODY_SHA256 = hashlib.sha256(b"").hexdigest()


@dataclass(frozen=True)
class SignedParts:
    """The intermediate values of one signature, for tests and for the verifying simulator."""

    canonical_request: str
    string_to_sign: str
    signed_headers: str
    signature: str


def format_sdk_date(moment: datetime) -> str:
    """Render a moment as the ``X-Sdk-Date`` header value."""
    return moment.astimezone(UTC).strftime(DATE_FORMAT)


def _encode(value: str) -> str:
    return quote(value, safe="~")


def canonical_uri(path: str) -> str:
    """Decode, re-encode each segment and end with ``/``, as the SDK signer does."""
    segments = [_encode(segment) for segment in unquote(path).split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs: list[tuple[str, str]]) -> str:
    """Sort the (key, value) pairs and percent-encode everything except ``~``."""
    return "&".join(f"{_encode(key)}={_encode(value)}" for key, value in sorted(pairs))


def signable_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers the signer covers: every name without an underscore."""
    return {name.lower(): value.strip() for name, value in headers.items() if "_" not in name}


def compute_signature(
    *,
    method: str,
    path: str,
    query: list[tuple[str, str]],
    headers: Mapping[str, str],
    body: bytes,
    secret_key: str,
) -> SignedParts:
    """Compute the canonical request, the string to sign and the signature.

    ``headers`` must already hold ``Host`` and ``X-Sdk-Date``; ``path`` is the URL path as sent.
    """
    covered = signable_headers(headers)
    names = sorted(covered)
    signed_headers = ";".join(names)
    canonical_headers = "".join(f"{name}:{covered[name]}\n" for name in names)
    payload_hash = (
        EMPTY_BODY_SHA256
        if not body
        else covered.get(CONTENT_SHA256_HEADER.lower()) or hashlib.sha256(body).hexdigest()
    )
    canonical_request = "\n".join(
        (
            method.upper(),
            canonical_uri(path),
            canonical_query(query),
            canonical_headers,
            signed_headers,
            payload_hash,
        )
    )
    date = covered[DATE_HEADER.lower()]
    string_to_sign = "\n".join((ALGORITHM, date, hashlib.sha256(canonical_request.encode()).hexdigest()))
    signature = hmac.new(secret_key.encode(), string_to_sign.encode(), hashlib.sha256).hexdigest()
    return SignedParts(canonical_request, string_to_sign, signed_headers, signature)


def authorization_header(access_key: str, parts: SignedParts) -> str:
    """The ``Authorization`` header value for a computed signature."""
    return f"{ALGORITHM} Access={access_key}, SignedHeaders={parts.signed_headers}, Signature={parts.signature}"


@dataclass(frozen=True)
class AkSkSigner:
    """Signs requests with a permanent or temporary access key."""

    access_key: str
    secret_key: str
    security_token: str | None = None

    def __repr__(self) -> str:
        return f"AkSkSigner(access_key={self.access_key[:4]}…)"

    def sign(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        *,
        now: datetime,
    ) -> dict[str, str]:
        """Return ``headers`` plus ``Host``, ``X-Sdk-Date``, token and ``Authorization``.

        The query string of ``url`` must already be in canonical form (see :func:`canonical_query`),
        because the gateway recomputes the signature from the query it receives.
        """
        parts = urlsplit(url)
        signed = dict(headers)
        if not any(name.lower() == "host" for name in signed):
            signed["Host"] = parts.netloc
        signed[DATE_HEADER] = format_sdk_date(now)
        if self.security_token:
            signed["X-Security-Token"] = self.security_token
        content_type = next((v for k, v in signed.items() if k.lower() == "content-type"), "")
        if content_type and not content_type.startswith(SIGNED_CONTENT_TYPES):
            signed[CONTENT_SHA256_HEADER] = UNSIGNED_PAYLOAD
        computed = compute_signature(
            method=method,
            path=parts.path or "/",
            query=parse_qsl(parts.query, keep_blank_values=True),
            headers=signed,
            body=body,
            secret_key=self.secret_key,
        )
        signed["Authorization"] = authorization_header(self.access_key, computed)
        return signed
