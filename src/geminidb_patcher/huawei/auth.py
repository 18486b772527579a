"""How requests authenticate: AK/SK signing, IAM tokens (password or agency), or a static token."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from geminidb_patcher.huawei.signer import AkSkSigner

TOKEN_HEADER = "X-Auth-Token"
SUBJECT_TOKEN_HEADER = "X-Subject-Token"
TOKEN_REFRESH_MARGIN = timedelta(minutes=30)
"""Refresh this long before ``expires_at``: Huawei may revoke a token up to 30 minutes early."""


class Authenticator(Protocol):
    """Adds authentication to a request that is about to be sent."""

    def authenticate(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> dict[str, str]:
        """Return the headers to send."""
        ...

    def refresh(self) -> bool:
        """Drop cached credentials after a 401; ``True`` when a new attempt may succeed."""
        ...


@dataclass(frozen=True)
class AkSkAuth:
    """``SDK-HMAC-SHA256`` signing; ``X-Project-Id`` is added and signed like the SDK does (none for a global
    service call such as IAM's project listing, as the SDK's global credentials send none without a domain)."""

    signer: AkSkSigner
    project_id: str | None

    def authenticate(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> dict[str, str]:
        """Sign the request."""
        scoped = {**headers, "X-Project-Id": self.project_id} if self.project_id else dict(headers)
        return self.signer.sign(method, url, scoped, body, now=now)

    def refresh(self) -> bool:
        """A refused signature does not improve by retrying (and five failures lock the key)."""
        return False


@dataclass(frozen=True)
class StaticTokenAuth:
    """A token obtained elsewhere; used as is."""

    token: str

    def __repr__(self) -> str:
        return "StaticTokenAuth(token=***)"

    def authenticate(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> dict[str, str]:
        """Add ``X-Auth-Token``."""
        return {**headers, TOKEN_HEADER: self.token}

    def refresh(self) -> bool:
        """A static token cannot be renewed."""
        return False


@dataclass(frozen=True)
class IssuedToken:
    """A token and the moment it stops being valid."""

    value: str
    expires_at: datetime

    def __repr__(self) -> str:
        return f"IssuedToken(value=***, expires_at={self.expires_at.isoformat()})"


TokenIssuer = Callable[[], IssuedToken]
"""Fetches a new token from IAM (see ``GeminiDBClient.issue_token``)."""


class IamTokenAuth:
    """A project-scoped IAM token, cached until shortly before it expires and renewed once on a 401."""

    def __init__(self, issuer: TokenIssuer, clock: Callable[[], datetime]) -> None:
        self._issuer = issuer
        self._clock = clock
        self._token: IssuedToken | None = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "IamTokenAuth()"

    def _current(self) -> str:
        with self._lock:
            token = self._token
            if token is None or self._clock() >= token.expires_at - TOKEN_REFRESH_MARGIN:
                token = self._token = self._issuer()
            return token.value

    def authenticate(
        self, method: str, url: str, headers: Mapping[str, str], body: bytes, now: datetime
    ) -> dict[str, str]:
        """Add a valid ``X-Auth-Token``, fetching one when none is cached or it is about to expire."""
        return {**headers, TOKEN_HEADER: self._current()}

    def refresh(self) -> bool:
        """Forget the cached token so the next request fetches a new one."""
        with self._lock:
            self._token = None
        return True


def password_token_body(
    *,
    user: str,
    password: str,
    domain: str,
    project_id: str | None = None,
    region: str | None = None,
    whole_account: bool = False,
) -> dict[str, Any]:
    """IAM ``POST /v3/auth/tokens`` body for an IAM user, scoped to a project of the user's own account, or to
    the account itself (``whole_account``: what listing the account's projects needs).

    Give ``project_id`` when the user's account owns the target project; give ``region`` to scope to the
    user's own project of that name (every account has one per region), as an agency's delegate must.
    """
    if sum((project_id is not None, region is not None, whole_account)) != 1:
        raise ValueError("scope a password token by exactly one of project_id, region or the whole account")
    if whole_account:
        identity = {"methods": ["password"], "password": {"user": {"name": user, "password": password,
                                                                   "domain": {"name": domain}}}}  # fmt: skip
        return {"auth": {"identity": identity, "scope": {"domain": {"name": domain}}}}
    scope = {"id": project_id} if project_id is not None else {"name": region}
    return {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": user, "password": password, "domain": {"name": domain}}},
            },
            "scope": {"project": scope},
        }
    }


def agency_token_body(*, domain_id: str, agency_name: str, project_id: str | None) -> dict[str, Any]:
    """IAM ``POST /v3/auth/tokens`` body that assumes an agency; sent with the delegate's token. Without
    ``project_id`` the token is scoped to the delegating account (what listing its projects needs)."""
    scope: dict[str, Any] = {"project": {"id": project_id}} if project_id else {"domain": {"id": domain_id}}
    return {
        "auth": {
            "identity": {
                "methods": ["assume_role"],
                "assume_role": {"domain_id": domain_id, "agency_name": agency_name},
            },
            "scope": scope,
        }
    }
