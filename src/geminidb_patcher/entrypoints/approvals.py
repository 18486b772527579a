"""``GET|POST /approvals/{token}``: the page of a reviewed plan, and the one apply of exactly that plan.

The token is the capability (it carries the run request, the plan ID, the expiry and an HMAC), so these routes
are not signed like ``POST /runs``. GET only reads: it plans with notifications off and takes no lease, so chat
unfurlers and mail scanners that fetch the link change nothing. POST applies with ``expected_plan_id``, so a
changed plan (including the same link pressed twice) sends nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from geminidb_patcher.contract.approval import ApprovalGrant, ApprovalTokenError, unseal
from geminidb_patcher.contract.report import ApprovalSource, RunReport
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.entrypoints.approval_html import (
    SECURITY_HEADERS,
    Page,
    busy_page,
    changed_page,
    plan_page,
    result_page,
    simple_page,
)
from geminidb_patcher.errors import PatcherError, PlanChangedError, answer_for
from geminidb_patcher.reconcile.plan import plan_id
from geminidb_patcher.redaction import clip
from geminidb_patcher.run.approval import APPROVALS_PATH
from geminidb_patcher.run.patcher import RunContext
from geminidb_patcher.telemetry import logger

MAX_FORM_BYTES = 4_096
"""The page's form posts no field; a bigger body is not ours."""
SAME_SITE = frozenset({"same-origin", "none"})
"""``Sec-Fetch-Site`` of a press on our own page (or a typed-in request); ``cross-site``, ``same-site`` are not."""
MAX_USER_AGENT = 200

NOTHING_PLANNED = plan_id(())
"""The plan ID of a plan that would submit nothing."""

Mint = Callable[[RunRequest, str], tuple[ApprovalGrant, str] | None]
"""A new grant and token to apply a pinned request to a plan ID; ``None`` when approvals have no key."""


@dataclass(frozen=True)
class Caller:
    """Who pressed: the source IP and user agent API Gateway saw (recorded in the apply's report, clipped)."""

    ip: str | None
    user_agent: str | None

    @classmethod
    def of(cls, event: Mapping[str, Any]) -> Caller:
        """From an HTTP API (payload v2) event's ``requestContext.http``."""
        http = (event.get("requestContext") or {}).get("http") or {}
        ip, agent = http.get("sourceIp"), http.get("userAgent")
        return cls(
            clip(str(ip), 64) if ip else None,
            clip("".join(c for c in str(agent) if c.isprintable()), MAX_USER_AGENT) if agent else None,
        )


def is_approval_path(path: str) -> bool:
    """Whether ``path`` (the stage already stripped) is an approval page's."""
    return path.startswith(APPROVALS_PATH) and "/" not in path[len(APPROVALS_PATH) :]


class ApprovalPages:
    """Answers the approval routes; ``run`` is the patcher's, ``keys`` the current approval keys."""

    def __init__(
        self,
        run: Callable[[RunRequest, RunContext], RunReport],
        keys: Callable[[], list[bytes]],
        mint: Mint,
        clock: Callable[[], float] = time.time,
        remember: Callable[[str], None] = lambda token: None,
    ) -> None:
        self._run = run
        self._keys = keys
        self._mint = mint
        self._clock = clock
        self._remember = remember

    def answer(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes, event: Mapping[str, Any], context: Any
    ) -> dict[str, Any]:
        """The page for one request to ``/approvals/{token}``."""
        token = path[len(APPROVALS_PATH) :]
        self._remember(token)  # a capability: kept out of every log line, whatever echoes it
        if method not in ("GET", "HEAD", "POST"):
            return _html(simple_page(405, "Not allowed", "Open this link in a browser."), {"Allow": "GET, HEAD, POST"})
        if method == "POST" and (refusal := _cross_site(headers)):
            logger.warning("approval_refused", extra={"reason": refusal})
            return _html(simple_page(403, "Refused", "This form can only be sent from its own page."))
        if len(body) > MAX_FORM_BYTES:
            return _html(simple_page(413, "Refused", "The form is larger than this page sends."))
        keys = self._keys()
        if not keys:
            logger.error("approval_refused", extra={"reason": "no_approval_key"})
            return _html(simple_page(503, "Approvals are off", "This deployment has no approval key configured."))
        try:
            grant = unseal(token, keys, self._clock())
        except ApprovalTokenError as error:
            logger.warning("approval_refused", extra={"reason": error.problem})
            if error.problem == "expired":
                return _html(simple_page(410, "This link has expired", "Plan again to get a new link."))
            return _html(simple_page(404, "Not found", "There is no approval page at this address."))
        if method == "HEAD":
            return _html(simple_page(200, "Review and apply", ""), head=True)
        try:
            if method == "GET":
                return _html(self._review(grant, context))
            return _html(self._apply(grant, Caller.of(event), context))
        except PatcherError as error:
            answer = answer_for(error)
            logger.error("approval_failed", extra={"token_id": grant.token_id, "error": answer.code})
            return _html(simple_page(answer.http_status, "Nothing was applied", answer.message))

    def _review(self, grant: ApprovalGrant, context: Any) -> Page:
        preview = grant.request.model_copy(update={"mode": "plan", "expected_plan_id": None, "notify": False})
        report = self._run(preview, RunContext.for_invocation(context, "approval"))
        fresh = None
        if report.plan_id != grant.plan_id and report.plan_id and report.counts.get("planned"):
            fresh = self._fresh(grant, report.plan_id)
        logger.info(
            "approval_viewed",
            extra={"token_id": grant.token_id, "plan_id": grant.plan_id, "now_plan_id": report.plan_id},
        )
        return plan_page(grant, report, fresh)

    def _apply(self, grant: ApprovalGrant, caller: Caller, context: Any) -> Page:
        source = ApprovalSource(
            token_id=grant.token_id,
            plan_id=grant.plan_id,
            issued_at=grant.moment("issued_at"),
            expires_at=grant.moment("expires_at"),
            caller_ip=caller.ip,
            user_agent=caller.user_agent,
        )
        try:
            report = self._run(grant.request, RunContext.for_invocation(context, "approval", source))
        except PlanChangedError as changed:
            logger.warning(
                "approval_plan_changed",
                extra={"token_id": grant.token_id, "plan_id": grant.plan_id, "now_plan_id": changed.actual},
            )
            now = changed.actual if changed.actual != NOTHING_PLANNED else None
            return changed_page(grant, now, self._fresh(grant, now) if now else None)
        logger.info("approval_applied", extra={"token_id": grant.token_id, "plan_id": grant.plan_id})
        return busy_page() if report.held_by_another_run else result_page(grant, report)

    def _fresh(self, grant: ApprovalGrant, plan_id: str) -> str | None:
        """A new link's last path segment (the token) for ``plan_id``: pages link to it relatively."""
        minted = self._mint(grant.request.model_copy(update={"expected_plan_id": plan_id}), plan_id)
        if minted is None:
            return None
        self._remember(minted[1])
        return minted[1]


def _cross_site(headers: Mapping[str, str]) -> str | None:
    """Why a POST is not a press on our own page, or ``None``.

    ``Sec-Fetch-Site`` decides where the browser sends it (all current ones). Otherwise ``Origin`` must name this
    host; ``null`` is accepted, because our pages' ``Referrer-Policy: no-referrer`` makes browsers send exactly that
    for their own form. The token in the path is the capability either way; this only stops other sites' forms.
    """
    fetch_site = str(headers.get("sec-fetch-site", "")).strip().lower()
    if fetch_site:
        return None if fetch_site in SAME_SITE else "cross_site"
    origin = str(headers.get("origin", "")).strip()
    if origin and origin != "null" and urlsplit(origin).netloc.lower() != str(headers.get("host", "")).strip().lower():
        return "foreign_origin"
    return None


def _html(page: Page, extra: Mapping[str, str] | None = None, *, head: bool = False) -> dict[str, Any]:
    return {
        "statusCode": page.status,
        "headers": {**SECURITY_HEADERS, **(extra or {})},
        "body": "" if head else page.html(),
        "isBase64Encoded": False,
    }
