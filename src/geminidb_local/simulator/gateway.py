"""What Huawei's API gateway checks before a request reaches the service: signatures and tokens."""

from __future__ import annotations

import hmac
import re
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qsl

from geminidb_local.simulator.backend import SimError
from geminidb_local.simulator.clock import SimClock
from geminidb_local.simulator.fleet import Credentials
from geminidb_patcher.huawei.signer import DATE_FORMAT, compute_signature

SIGNATURE_SKEW = timedelta(minutes=15)
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=5)
TOKEN_LIFETIME = timedelta(hours=24)
_AUTH_HEADER = re.compile(
    r"^SDK-HMAC-SHA256 Access=(?P<ak>[^,\s]+), SignedHeaders=(?P<headers>[^,\s]+), Signature=(?P<sig>[0-9a-f]{64})$"
)


def _refused(reason: str) -> SimError:
    return SimError(401, "APIG.0301", f"Incorrect IAM authentication information: {reason}")


@dataclass
class Gateway:
    """Verifies AK/SK signatures (with the 5-failure lockout) and issues and checks IAM tokens."""

    credentials: Credentials
    clock: SimClock
    tokens: dict[str, datetime] = field(default_factory=dict)
    failures: int = 0
    locked_until: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes) -> None:
        """Accept the request or raise a 401 ``SimError`` in the gateway's error shape."""
        lowered = {name.lower(): value for name, value in headers.items()}
        if "x-auth-token" in lowered:
            self._check_token(lowered["x-auth-token"])
            return
        authorization = lowered.get("authorization")
        if authorization is None:
            raise _refused("no credentials")
        self._check_signature(method, raw_path, raw_query, lowered, body, authorization)

    def _check_token(self, token: str) -> None:
        with self.lock:
            expires = self.tokens.get(token)
        if expires is None or self.clock.now() >= expires:
            raise _refused("decrypt token fail")

    def _check_signature(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: dict[str, str],
        body: bytes,
        authorization: str,
    ) -> None:
        now = datetime.now(UTC)
        with self.lock:
            if self.locked_until and now < self.locked_until:
                raise _refused("AK access failed to reach the limit,forbidden")
        match = _AUTH_HEADER.match(authorization)
        ok = False
        if match and match["ak"] == self.credentials.ak:
            names = match["headers"].split(";")
            try:
                date = datetime.strptime(headers.get("x-sdk-date", ""), DATE_FORMAT).replace(tzinfo=UTC)
            except ValueError:
                date = None
            token_ok = self.credentials.security_token is None or (
                "x-security-token" in names
                and hmac.compare_digest(headers.get("x-security-token", ""), self.credentials.security_token)
            )
            if date and abs(now - date) <= SIGNATURE_SKEW and token_ok and all(n in headers for n in names):
                expected = compute_signature(
                    method=method,
                    path=raw_path,
                    query=parse_qsl(raw_query, keep_blank_values=True),
                    headers={name: headers[name] for name in names},
                    body=body,
                    secret_key=self.credentials.sk,
                )
                ok = hmac.compare_digest(expected.signature, match["sig"])
        with self.lock:
            if ok:
                self.failures = 0
                return
            self.failures += 1
            if self.failures > LOCKOUT_AFTER:
                self.locked_until = now + LOCKOUT_FOR
        raise _refused("verify aksk signature fail")

    def issue_token(self, body: object, headers: Mapping[str, str]) -> tuple[str, datetime]:
        """IAM ``POST /v3/auth/tokens`` for the configured user, or an agency with a valid token."""
        identity = body.get("auth", {}).get("identity", {}) if isinstance(body, dict) else {}
        methods = identity.get("methods") if isinstance(identity, dict) else None
        creds = self.credentials
        if methods == ["password"]:
            user = identity.get("password", {}).get("user", {})
            given = (user.get("name"), user.get("password"), user.get("domain", {}).get("name"))
            wanted = (creds.iam_user, creds.iam_password, creds.iam_domain)
            if creds.iam_user is None or given != wanted:
                raise SimError(401, "IAM.0004", "The username or password is incorrect.")
        elif methods == ["assume_role"]:
            token = {k.lower(): v for k, v in headers.items()}.get("x-auth-token", "")
            self._check_token(token)
        else:
            raise SimError(400, "IAM.0010", "The request body is invalid.")
        token = "MII" + secrets.token_urlsafe(48)
        expires = self.clock.now() + TOKEN_LIFETIME
        with self.lock:
            self.tokens[token] = expires
        return token, expires

    def revoke_tokens(self) -> int:
        """Invalidate every issued token, as a password change would; returns how many."""
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
        return count
