"""The approval routes with a fake patcher: GET only plans (silently), POST applies the pinned plan once, and every
refusal says little and runs nothing."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest

from geminidb_local.lambda_shim import LocalContext
from geminidb_patcher.contract.reasons import ANOTHER_RUN
from geminidb_patcher.contract.report import ApprovalSource, RunReport
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.entrypoints.approval_html import SECURITY_HEADERS, STYLE
from geminidb_patcher.entrypoints.approvals import ApprovalPages, is_approval_path
from geminidb_patcher.errors import PlanChangedError
from geminidb_patcher.run.approval import ApprovalIssuer, pinned
from geminidb_patcher.run.patcher import RunContext
from tests.reports import small_run

KEY = secrets.token_bytes(32)
PLAN = "p-3f0c2a9be1d47a65"
HOST = "abc123.execute-api.ap-southeast-1.amazonaws.com"


@dataclass
class FakePatcher:
    """Answers plans with ``plan_id`` and applies like the real one would (plan changed → ``PlanChangedError``)."""

    plan_id: str = PLAN
    busy: bool = False
    runs: list[tuple[RunRequest, RunContext]] = field(default_factory=list)

    def run(self, request: RunRequest, context: RunContext) -> RunReport:
        self.runs.append((request, context))
        base = small_run()
        if request.mode == "apply" and request.expected_plan_id != self.plan_id:
            raise PlanChangedError(request.expected_plan_id or "", self.plan_id)
        if request.mode == "plan":
            planned = [o.model_copy(update={"outcome": "planned", "job_id": None}) for o in base.outcomes[:3]]
            counts = dict.fromkeys(base.counts, 0) | {"planned": 3}
            return base.model_copy(
                update={"mode": "plan", "plan_id": self.plan_id, "outcomes": planned, "counts": counts}
            )
        if self.busy:
            held = base.outcomes[0].model_copy(update={"outcome": "skipped", "reason": ANOTHER_RUN})
            return base.model_copy(update={"outcomes": [held]})
        return base.model_copy(update={"trigger": "approval", "source": context.source})


def token_for(plan_id: str = PLAN, clock: float | None = None) -> str:
    issuer = ApprovalIssuer(lambda: [KEY], "", timedelta(hours=1), (lambda: clock) if clock else time.time)
    minted = issuer.mint(pinned(RunRequest(max_errors=1), "schedule", plan_id), plan_id)
    assert minted is not None
    return minted[1]


def pages(patcher: FakePatcher, keys: list[bytes] | None = None) -> tuple[ApprovalPages, list[str]]:
    remembered: list[str] = []
    issuer = ApprovalIssuer(lambda: [KEY], "")
    made = ApprovalPages(patcher.run, lambda: [KEY] if keys is None else keys, issuer.mint, remember=remembered.append)
    return made, remembered


def ask(
    made: ApprovalPages, method: str, token: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> dict[str, Any]:
    event = {"requestContext": {"http": {"sourceIp": "203.0.113.9", "userAgent": "Mozilla/5.0 (X11) <b>"}}}
    return made.answer(method, f"/approvals/{token}", {"host": HOST, **(headers or {})}, body, event, LocalContext())


def test_get_renders_the_plan_from_a_silent_plan_run_with_one_post_form() -> None:
    patcher = FakePatcher()
    made, remembered = pages(patcher)
    token = token_for()

    page = ask(made, "GET", token)

    assert page["statusCode"] == 200
    assert page["headers"] == SECURITY_HEADERS
    ((request, context),) = patcher.runs
    assert (request.mode, request.expected_plan_id, request.notify, context.trigger) == (
        "plan",
        None,
        False,
        "approval",
    )
    assert request.window == "instance" and request.max_errors == 1
    html = page["body"]
    assert len(re.findall(r"<form method=\"post\">", html)) == 1 and "action=" not in html
    assert "<script" not in html and "Apply this plan" in html and PLAN in html
    assert remembered == [token]


def test_post_applies_the_pinned_plan_and_records_who_pressed() -> None:
    patcher = FakePatcher()
    made, _ = pages(patcher)

    page = ask(made, "POST", token_for(), {"origin": f"https://{HOST}", "sec-fetch-site": "same-origin"})

    assert page["statusCode"] == 200 and "Plan applied" in page["body"]
    ((request, context),) = patcher.runs
    assert (request.mode, request.expected_plan_id, context.trigger) == ("apply", PLAN, "approval")
    source = context.source
    assert isinstance(source, ApprovalSource)
    assert (source.plan_id, source.caller_ip, source.user_agent) == (PLAN, "203.0.113.9", "Mozilla/5.0 (X11) <b>")
    assert source.token_id.startswith("t-")


def test_a_changed_plan_sends_nothing_and_offers_a_new_link_for_the_new_plan() -> None:
    patcher = FakePatcher(plan_id="p-ffffffffffffffff")
    made, _ = pages(patcher)

    page = ask(made, "POST", token_for(), {"sec-fetch-site": "same-origin"})

    assert page["statusCode"] == 409 and "The plan has changed" in page["body"]
    fresh = re.search(r'href="(a1\.[^"]+)"', page["body"])
    assert fresh is not None
    viewed = ask(made, "GET", fresh.group(1))
    assert viewed["statusCode"] == 200 and "p-ffffffffffffffff" in viewed["body"]


def test_a_plan_that_changed_before_the_page_was_opened_has_no_apply_button() -> None:
    made, _ = pages(FakePatcher(plan_id="p-ffffffffffffffff"))
    page = ask(made, "GET", token_for())
    assert page["statusCode"] == 409 and "<form" not in page["body"] and "Review the current plan" in page["body"]


def test_another_runs_lease_makes_a_busy_page() -> None:
    made, _ = pages(FakePatcher(busy=True))
    page = ask(made, "POST", token_for())
    assert page["statusCode"] == 409 and "Another run is applying" in page["body"]


@pytest.mark.parametrize(
    ("headers", "why"),
    [
        ({"sec-fetch-site": "cross-site"}, "cross-site"),
        ({"sec-fetch-site": "same-site"}, "same-site"),
        ({"origin": "https://evil.example"}, "foreign origin"),
        ({"origin": "null", "sec-fetch-site": "cross-site"}, "opaque origin from another site"),
    ],
)
def test_a_cross_site_post_is_refused_before_anything_runs(headers: dict[str, str], why: str) -> None:
    patcher = FakePatcher()
    made, _ = pages(patcher)
    page = ask(made, "POST", token_for(), headers)
    assert page["statusCode"] == 403, why
    assert patcher.runs == []


def test_our_own_forms_post_passes_with_the_null_origin_no_referrer_makes_browsers_send() -> None:
    patcher = FakePatcher()
    made, _ = pages(patcher)
    for headers in ({"origin": "null", "sec-fetch-site": "same-origin"}, {"origin": "null"}, {}):
        assert ask(made, "POST", token_for(), headers)["statusCode"] == 200
    assert len(patcher.runs) == 3


def test_expired_tampered_keyless_and_other_methods_run_nothing_and_say_little() -> None:
    patcher = FakePatcher()
    made, _ = pages(patcher)
    token = token_for()

    expired = ask(made, "GET", token_for(clock=1_000_000_000.0))
    tampered = ask(made, "GET", token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    keyless = ask(pages(patcher, keys=[])[0], "GET", token)
    put = ask(made, "PUT", token)
    head = ask(made, "HEAD", token)
    huge = ask(made, "POST", token, body=b"x" * 5000)

    assert (expired["statusCode"], tampered["statusCode"], keyless["statusCode"]) == (410, 404, 503)
    assert "expired" in expired["body"] and "no approval page" in tampered["body"]
    assert (put["statusCode"], put["headers"]["Allow"]) == (405, "GET, HEAD, POST")
    assert (head["statusCode"], head["body"], huge["statusCode"]) == (200, "", 413)
    assert patcher.runs == []


def test_the_pages_style_is_the_only_one_the_policy_allows() -> None:
    digest = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
    policy = SECURITY_HEADERS["Content-Security-Policy"]
    assert f"style-src 'sha256-{digest}'" in policy and "default-src 'none'" in policy
    assert "script-src" not in policy and "frame-ancestors 'none'" in policy
    assert SECURITY_HEADERS["Cache-Control"] == "no-store" and SECURITY_HEADERS["Referrer-Policy"] == "no-referrer"


def test_approval_paths_are_one_segment_under_approvals() -> None:
    assert is_approval_path("/approvals/a1.x.y")
    assert not is_approval_path("/approvals/a1.x.y/more") and not is_approval_path("/runs")
