"""Approval tokens open only with our key, unaltered and unexpired, and carry exactly the pinned request."""

from __future__ import annotations

import base64
import secrets

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geminidb_patcher.contract.approval import (
    MAX_TOKEN_CHARS,
    ApprovalGrant,
    ApprovalTokenError,
    approval_key,
    seal,
    unseal,
)
from geminidb_patcher.contract.request import RunRequest

KEY = secrets.token_bytes(32)
NOW = 1_800_000_000
PLAN = "p-0123456789abcdef"


def grant(**request: object) -> ApprovalGrant:
    pinned = RunRequest.model_validate(
        {"mode": "apply", "expected_plan_id": PLAN, "window": "instance", "max_errors": 1, **request}
    )
    return ApprovalGrant(pinned, PLAN, "t-000000000001", NOW, NOW + 3600)


def test_a_token_opens_to_the_same_grant_with_its_key() -> None:
    original = grant(max_in_flight="10%", notify=["slack-ops"], waves=[{"name": "canary"}, {"name": "rest"}])

    opened = unseal(seal(original, KEY), [KEY], NOW + 10)

    assert opened == original
    assert opened.request.window == "instance" and opened.request.expected_plan_id == PLAN


def test_a_rotated_key_still_opens_tokens_the_old_one_signed() -> None:
    token = seal(grant(), KEY)
    assert unseal(token, [secrets.token_bytes(32), KEY], NOW).token_id == "t-000000000001"


@pytest.mark.parametrize(
    "change",
    [
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # the MAC
        lambda t: t.replace("a1.", "a1.x", 1),  # the payload
        lambda t: "a2" + t[2:],  # the version
        lambda t: t + ".extra",
        lambda t: t.split(".")[0] + "." + t.split(".")[2],
        lambda t: "",
        lambda t: t + "A" * MAX_TOKEN_CHARS,
    ],
)
def test_an_altered_token_is_invalid(change: object) -> None:
    token = seal(grant(), KEY)
    with pytest.raises(ApprovalTokenError) as refused:
        unseal(change(token), [KEY], NOW)  # type: ignore[operator]
    assert refused.value.problem == "invalid"


def test_another_key_makes_an_invalid_token_and_no_key_opens_nothing() -> None:
    token = seal(grant(), KEY)
    for keys in ([secrets.token_bytes(32)], []):
        with pytest.raises(ApprovalTokenError) as refused:
            unseal(token, keys, NOW)
        assert refused.value.problem == "invalid"


def test_an_expired_token_says_expired_but_only_once_its_mac_holds() -> None:
    token = seal(grant(), KEY)
    with pytest.raises(ApprovalTokenError) as expired:
        unseal(token, [KEY], NOW + 3600)
    assert expired.value.problem == "expired"
    with pytest.raises(ApprovalTokenError) as forged:  # a later expiry cannot be written in without the key
        unseal(seal(ApprovalGrant(grant().request, PLAN, "t-1", NOW, NOW + 10**9), secrets.token_bytes(32)), [KEY], NOW)
    assert forged.value.problem == "invalid"


def test_a_signed_grant_that_is_not_a_pinned_apply_is_refused() -> None:
    plan_only = ApprovalGrant(RunRequest(mode="plan"), PLAN, "t-1", NOW, NOW + 60)
    other_plan = ApprovalGrant(grant().request, "p-ffffffffffffffff", "t-1", NOW, NOW + 60)
    for refused in (plan_only, other_plan):
        with pytest.raises(ApprovalTokenError):
            unseal(seal(refused, KEY), [KEY], NOW)


def test_approval_secrets_need_32_key_bytes_in_whsec_form() -> None:
    assert approval_key("whsec_" + base64.b64encode(KEY).decode()) == KEY
    assert approval_key("whsec_" + base64.b64encode(KEY[:16]).decode()) is None
    assert approval_key("not base64 !") is None


@settings(max_examples=200)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_no_single_character_change_opens(position: int, replacement: str) -> None:
    token = seal(grant(), KEY)
    index = position % len(token)
    changed = token[:index] + replacement + token[index + 1 :]
    if changed == token:
        return
    with pytest.raises(ApprovalTokenError):
        unseal(changed, [KEY], NOW)
