"""AWS Signature Version 4 for the few AWS calls the function makes (DynamoDB), without boto.

The rules are AWS's published ones for services other than S3: the path is normalised (dot segments and empty
segments removed) and percent-encoded once more, the query's names and values are encoded with only ``-_.~`` left
as they are and sorted, every header but the hop-by-hop and tracing ones is signed, and the payload's SHA-256 is
part of the signature. A test holds the result against botocore's signer over randomised requests.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import quote, unquote, urlsplit

ALGORITHM = "AWS4-HMAC-SHA256"
DATE_FORMAT = "%Y%m%dT%H%M%SZ"
UNSIGNED_HEADERS = frozenset(
    {
        "authorization",
        "baggage",
        "connection",
        "expect",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "traceparent",
        "tracestate",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "user-agent",
        "x-amzn-trace-id",
    }
)
"""Headers a proxy or the HTTP stack may change or drop on the way: never part of the signature."""
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, repr=False)
class AwsCredentials:
    """An access key pair and, for temporary credentials (Lambda's), the session token; never printed."""

    access_key_id: str
    secret_access_key: str
    session_token: str | None = None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> AwsCredentials | None:
        """The credentials Lambda gives the function (``AWS_ACCESS_KEY_ID`` …), or ``None`` when there are none."""
        key, secret = environ.get("AWS_ACCESS_KEY_ID"), environ.get("AWS_SECRET_ACCESS_KEY")
        if not (key and secret):
            return None
        return cls(key, secret, environ.get("AWS_SESSION_TOKEN") or None)

    def __repr__(self) -> str:
        return "AwsCredentials(<hidden>)"


def _remove_dot_segments(path: str) -> str:
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    leading = "/" if path.startswith("/") else ""
    trailing = "/" if path.endswith("/") and kept else ""
    return leading + "/".join(kept) + trailing


def canonical_path(path: str) -> str:
    """The path as sent, normalised, then percent-encoded again (``%`` becomes ``%25``), as non-S3 services sign."""
    return quote(_remove_dot_segments(path) if path else "/", safe="/~")


def canonical_query(query: str) -> str:
    """Every ``name=value`` pair of the query, decoded, re-encoded with only ``-_.~`` kept, sorted."""
    if not query:
        return ""
    pairs = []
    for part in query.split("&"):
        name, _, value = part.partition("=")
        pairs.append((quote(unquote(name), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def host_header(url: str) -> str:
    """The ``Host`` value of ``url``: lower-case, without a user, without the scheme's default port."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if parts.port is not None and parts.port != DEFAULT_PORTS.get(parts.scheme):
        host = f"{host}:{parts.port}"
    return host


def _hmac(key: bytes, text: str) -> bytes:
    return hmac.new(key, text.encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class SigV4Signer:
    """Signs requests to one service in one region."""

    region: str
    service: str

    def sign(
        self,
        credentials: AwsCredentials,
        method: str,
        url: str,
        headers: Mapping[str, str],
        body: bytes,
        now: datetime,
    ) -> dict[str, str]:
        """``headers`` plus ``X-Amz-Date``, the session token if any, and ``Authorization``."""
        stamp = now.astimezone(UTC).strftime(DATE_FORMAT)
        sent = {name: value for name, value in headers.items() if name.lower() not in ("authorization", "x-amz-date")}
        sent["X-Amz-Date"] = stamp
        if credentials.session_token:
            sent = {name: value for name, value in sent.items() if name.lower() != "x-amz-security-token"}
            sent["X-Amz-Security-Token"] = credentials.session_token
        covered: dict[str, list[str]] = {}
        for name, value in sent.items():
            if name.lower() not in UNSIGNED_HEADERS:
                covered.setdefault(name.lower(), []).append(" ".join(value.split()))
        covered.setdefault("host", [host_header(url)])
        names = sorted(covered)
        signed_headers = ";".join(names)
        parts = urlsplit(url)
        canonical_request = "\n".join(
            (
                method.upper(),
                canonical_path(parts.path),
                canonical_query(parts.query),
                "".join(f"{name}:{','.join(covered[name])}\n" for name in names),
                signed_headers,
                hashlib.sha256(body).hexdigest(),
            )
        )
        scope = f"{stamp[:8]}/{self.region}/{self.service}/aws4_request"
        string_to_sign = "\n".join((ALGORITHM, stamp, scope, hashlib.sha256(canonical_request.encode()).hexdigest()))
        key = _hmac(f"AWS4{credentials.secret_access_key}".encode(), stamp[:8])
        for part in (self.region, self.service, "aws4_request"):
            key = _hmac(key, part)
        signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
        sent["Authorization"] = (
            f"{ALGORITHM} Credential={credentials.access_key_id}/{scope}, "
            f"SignedHeaders={signed_headers}, Signature={signature}"
        )
        return sent
