"""Which runs get an approval link, what it pins, and when a request is too long for one."""

from __future__ import annotations

import secrets
from datetime import timedelta

from geminidb_patcher.contract.approval import unseal
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.run.approval import MAX_LINK_CHARS, ApprovalIssuer, pinned
from tests.reports import small_run

KEY = secrets.token_bytes(32)
NOW = 1_800_000_000.0
BASE = "https://abc123.execute-api.ap-southeast-1.amazonaws.com"


def issuer(keys: list[bytes] | None = None) -> tuple[ApprovalIssuer, list[str]]:
    remembered: list[str] = []
    made = ApprovalIssuer(
        lambda: [KEY] if keys is None else keys, BASE, timedelta(hours=2), lambda: NOW, remembered.append
    )
    return made, remembered


def plan_report(trigger: str = "schedule", planned: int = 3) -> object:
    base = small_run()
    return base.model_copy(
        update={"mode": "plan", "trigger": trigger, "counts": {**base.counts, "planned": planned, "submitted": 0}}
    )


def test_a_plan_that_planned_something_gets_a_link_to_apply_exactly_it() -> None:
    made, remembered = issuer()
    request = RunRequest(mode="plan", max_errors=1, notify=["slack-ops"])

    offer = made.offer(plan_report(), request)  # type: ignore[arg-type]

    assert offer is not None and offer.url is not None and offer.url.startswith(BASE + "/approvals/a1.")
    grant = unseal(offer.url.rsplit("/", 1)[1], [KEY], NOW)
    assert grant.plan_id == "p-3f0c2a9be1d47a65" and grant.token_id == offer.token_id
    assert grant.request.mode == "apply" and grant.request.expected_plan_id == grant.plan_id
    assert grant.request.window == "instance"  # the schedule's default, written out
    assert grant.request.max_errors == 1 and grant.request.notify == ["slack-ops"]
    assert grant.expires_at - grant.issued_at == 7200
    assert offer.expires_at is not None and offer.expires_at.timestamp() == NOW + 7200
    assert remembered == [offer.url.rsplit("/", 1)[1]]


def test_the_window_a_webhook_plan_used_is_anytime_and_an_explicit_one_is_kept() -> None:
    assert pinned(RunRequest(), "webhook", "p-0123456789abcdef").window == "anytime"
    explicit = RunRequest.model_validate({"window": {"start": "01:00", "end": "05:00", "timezone": "Asia/Shanghai"}})
    assert pinned(explicit, "schedule", "p-0123456789abcdef").window == explicit.window


def test_applies_empty_plans_and_the_approval_pages_own_plans_get_no_link() -> None:
    made, _ = issuer()
    apply = small_run()
    assert made.offer(apply, RunRequest(mode="apply")) is None
    assert made.offer(plan_report(planned=0), RunRequest()) is None  # type: ignore[arg-type]
    assert made.offer(plan_report(trigger="approval"), RunRequest()) is None  # type: ignore[arg-type]


def test_without_a_key_or_room_the_plan_says_why_it_has_no_link() -> None:
    keyless, _ = issuer(keys=[])
    offer = keyless.offer(plan_report(), RunRequest())  # type: ignore[arg-type]
    assert offer is not None and offer.url is None and "APPROVAL_SECRET" in (offer.unavailable or "")

    made, remembered = issuer()
    ids = [secrets.token_hex(16) + "in06" for _ in range(200)]
    too_long = made.offer(plan_report(), RunRequest(instance_ids=ids))  # type: ignore[arg-type]
    assert too_long is not None and too_long.url is None and too_long.token_id is None
    assert f"at most {MAX_LINK_CHARS:,}" in (too_long.unavailable or "")
    assert "expected_plan_id p-3f0c2a9be1d47a65" in (too_long.unavailable or "")
    assert remembered == []  # a token that is not handed out need not be hidden
