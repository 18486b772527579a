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

from geminidb_local.simulator.clock import SimClock
from geminidb_local.simulator.errors import SimError
from geminidb_local.simulator.fleet import Credentials
from geminidb_patcher.huawei.signer import DATE_FORMAT, compute_signature

SIGNATURE_SKEW = timedelta(minutes=15)
LOCKOUT_AFTER = 5
LOCKOUT_FOR = timedelta(minutes=5)
TOKEN_LIFETIME = timedelta(hours=24)
DOMAIN_SCOPE = "<domain>"
"""What a token scoped to a whole account is recorded as: no project's calls accept it."""
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
    tokens: dict[str, tuple[datetime, str]] = field(default_factory=dict)
    """token → (expiry, the project it is scoped to)."""
    project_mismatch: tuple[int, str] = (401, "APIG.0301")
    failures: int = 0
    locked_until: datetime | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def check(
        self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes, project: str
    ) -> None:
        """Accept the request for ``project`` (the path's) or raise the gateway's error.

        A token scoped to another project, or an AK/SK request for another project than the key's, is refused
        with ``project_mismatch`` (an assumption: docs/fidelity.md).
        """
        scoped = self._caller_scope(method, raw_path, raw_query, headers, body)
        if project != scoped:
            status, code = self.project_mismatch
            raise SimError(status, code, "Incorrect IAM authentication information: project mismatch")

    def check_account(
        self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes
    ) -> None:
        """Accept a call of the whole account (IAM's project listing): any valid token, or a valid signature."""
        self._caller_scope(method, raw_path, raw_query, headers, body)

    def _caller_scope(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str], body: bytes) -> str:
        """What the caller's credentials reach: a token's scope, or the key's project; 401 when neither holds."""
        lowered = {name.lower(): value for name, value in headers.items()}
        if "x-auth-token" in lowered:
            return self._check_token(lowered["x-auth-token"])
        authorization = lowered.get("authorization")
        if authorization is None:
            raise _refused("no credentials")
        self._check_signature(method, raw_path, raw_query, lowered, body, authorization)
        return self.credentials.project_id

    def _check_token(self, token: str) -> str:
        """The project the token is scoped to; 401 when it is unknown or expired."""
        with self.lock:
            issued = self.tokens.get(token)
        if issued is None or self.clock.now() >= issued[0]:
            raise _refused("decrypt token fail")
        return issued[1]

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

    def issue_token(self, body: object, headers: Mapping[str, str]) -> tuple[str, datetime, str]:
        """IAM ``POST /v3/auth/tokens``: a password token of the user's own account, or an agency's token.

        Scopes follow IAM: a password token's project must be one of the user's own account (by ID, or by
        its name, which is the region); an agency token's project is one of the delegating account.
        """
        auth = body.get("auth", {}) if isinstance(body, dict) else {}
        identity = auth.get("identity", {}) if isinstance(auth, dict) else {}
        scope = auth.get("scope", {}) if isinstance(auth, dict) else {}
        project = scope.get("project", {}) if isinstance(scope, dict) else {}
        domain = scope.get("domain") if isinstance(scope, dict) else None
        if not isinstance(identity, dict) or not isinstance(project, dict) or (domain is not None and project):
            raise SimError(400, "IAM.0010", "The request body is invalid.")
        methods = identity.get("methods")
        creds = self.credentials
        if methods == ["password"]:
            user = identity.get("password", {}).get("user", {})
            given = (user.get("name"), user.get("password"), user.get("domain", {}).get("name"))
            wanted = (creds.iam_user, creds.iam_password, creds.iam_domain)
            if creds.iam_user is None or given != wanted:
                raise SimError(401, "IAM.0004", "The username or password is incorrect.")
            own = creds.iam_user_project_id or creds.project_id
            if domain is not None:  # the whole account: the user's own
                if not isinstance(domain, dict) or domain.get("name", creds.iam_domain) != creds.iam_domain:
                    raise SimError(401, "IAM.0002", "The domain is not the user's.")
                scoped = DOMAIN_SCOPE
            elif project.get("id", own) != own or project.get("name", creds.region) != creds.region:
                raise SimError(401, "IAM.0002", "The project does not belong to the user's account.")
            else:
                scoped = own
        elif methods == ["assume_role"]:
            token = {k.lower(): v for k, v in headers.items()}.get("x-auth-token", "")
            self._check_token(token)
            role = identity.get("assume_role", {})
            agency = (role.get("domain_id"), role.get("agency_name")) if isinstance(role, dict) else (None, None)
            if creds.agency_name is None or agency != (creds.agency_domain_id, creds.agency_name):
                raise SimError(403, "IAM.0003", "The agency does not exist or the user may not assume it.")
            if domain is not None:  # the delegating account as a whole
                if not isinstance(domain, dict) or domain.get("id") != creds.agency_domain_id:
                    raise SimError(401, "IAM.0002", "The domain is not the delegating account.")
                scoped = DOMAIN_SCOPE
            elif project.get("id") != creds.project_id:
                raise SimError(401, "IAM.0002", "The project does not belong to the delegating account.")
            else:
                scoped = creds.project_id
        else:
            raise SimError(400, "IAM.0010", "The request body is invalid.")
        token = "MII" + secrets.token_urlsafe(48)
        expires = self.clock.now() + TOKEN_LIFETIME
        with self.lock:
            self.tokens[token] = (expires, scoped)
        return token, expires, scoped

    def revoke_tokens(self) -> int:
        """Invalidate every issued token, as a password change would; returns how many."""
        with self.lock:
            count = len(self.tokens)
            self.tokens.clear()
        return count
