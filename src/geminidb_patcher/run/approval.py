"""Approval links: issued for a plan run that planned something, and for a changed plan on request."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from geminidb_patcher.contract.approval import ApprovalGrant, seal
from geminidb_patcher.contract.report import ApprovalOffer, RunReport
from geminidb_patcher.contract.request import RunRequest, Trigger

APPROVALS_PATH = "/approvals/"
MAX_LINK_CHARS = 2_000
"""The longest link issued: chat clients and mail cut or refuse longer ones (Teams and older mail clients first)."""
DEFAULT_TTL = timedelta(hours=12)


def pinned(request: RunRequest, trigger: Trigger, plan_id: str) -> RunRequest:
    """``request`` as the apply of exactly ``plan_id``: the window the plan used is written out (a schedule's default
    is the instances' own windows, any other trigger's is 'anytime'), so the link applies what the digest showed."""
    window = request.window or ("instance" if trigger == "schedule" else "anytime")
    return request.model_copy(update={"mode": "apply", "expected_plan_id": plan_id, "window": window})


@dataclass(frozen=True)
class ApprovalIssuer:
    """Mints approval links under ``base_url`` with the first of the current approval keys."""

    keys: Callable[[], list[bytes]]
    base_url: str
    ttl: timedelta = DEFAULT_TTL
    clock: Callable[[], float] = time.time
    remember: Callable[[str], None] = lambda token: None
    """Teaches every token to the log redactor: a token is a capability, so it is kept out of every log line."""

    def mint(self, request: RunRequest, plan_id: str) -> tuple[ApprovalGrant, str] | None:
        """A new grant to apply ``request`` (already pinned) to ``plan_id``, and its token; ``None`` without a key."""
        keys = self.keys()
        if not keys:
            return None
        now = int(self.clock())
        grant = ApprovalGrant(request, plan_id, "t-" + secrets.token_hex(6), now, now + int(self.ttl.total_seconds()))
        return grant, seal(grant, keys[0])

    def link(self, request: RunRequest, plan_id: str) -> ApprovalOffer:
        """A link applying ``request`` (already pinned) to ``plan_id``, or why none fits."""
        minted = self.mint(request, plan_id)
        if minted is None:
            return ApprovalOffer(unavailable="APPROVAL_SECRET is not set or not well-formed: no link was issued.")
        grant, token = minted
        url = self.base_url.rstrip("/") + APPROVALS_PATH + token
        if len(url) > MAX_LINK_CHARS:
            return ApprovalOffer(
                unavailable=f"The request does not fit in an approval link ({len(url):,} characters, at most "
                f"{MAX_LINK_CHARS:,}; a long instance_ids list does this): apply it with expected_plan_id {plan_id}."
            )
        self.remember(token)
        return ApprovalOffer(token_id=grant.token_id, expires_at=grant.moment("expires_at"), url=url)

    def offer(self, report: RunReport, request: RunRequest) -> ApprovalOffer | None:
        """A plan run's link, when it planned something; ``None`` for any other run (and an approval page's own)."""
        if report.mode != "plan" or not report.counts.get("planned") or report.plan_id is None:
            return None
        if report.trigger == "approval":
            return None
        return self.link(pinned(request, report.trigger, report.plan_id), report.plan_id)
