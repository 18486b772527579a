"""A plan's "Review and apply" link in every channel that can carry one, whole, within every vendor's limit."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from geminidb_local.simulator.receivers import check
from geminidb_patcher.contract.report import ApprovalOffer, ApprovalSource, RunReport
from geminidb_patcher.notify import dingtalk, feishu, slack, smn, teams, wecom
from geminidb_patcher.notify.base import json_body
from geminidb_patcher.notify.digest import APPROVE_LABEL, build_digest, has_changes, utf8_size
from geminidb_patcher.run.approval import MAX_LINK_CHARS
from tests.reports import large_run, small_run

EXPIRES = datetime(2026, 11, 28, 14, 0, tzinfo=UTC)
LONGEST = "https://abc123.execute-api.ap-southeast-1.amazonaws.com/approvals/a1."
LONGEST += "x" * (MAX_LINK_CHARS - len(LONGEST))


def plan_run(base: RunReport, url: str = LONGEST) -> RunReport:
    planned = [o.model_copy(update={"outcome": "planned", "job_id": None}) for o in base.outcomes]
    offer = ApprovalOffer(token_id="t-0123456789ab", expires_at=EXPIRES, url=url)
    counts = dict.fromkeys(base.counts, 0) | {"planned": len(planned)}
    return base.model_copy(update={"mode": "plan", "outcomes": planned, "counts": counts, "approval": offer})


@pytest.mark.parametrize("base", [small_run, large_run], ids=["small", "large"])
def test_every_chat_channel_shows_the_whole_link_within_its_limit_and_its_receiver_takes_it(base: object) -> None:
    digest = build_digest(plan_run(base()))  # type: ignore[operator]
    assert digest.link is not None and digest.link.url == LONGEST

    slack_message = slack.render(digest)
    buttons = [e for b in slack_message["blocks"] if b["type"] == "actions" for e in b["elements"]]
    assert [(b["text"]["text"], b["url"]) for b in buttons] == [(APPROVE_LABEL, LONGEST)]
    card = teams.render(digest)["attachments"][0]["content"]
    assert card["actions"] == [{"type": "Action.OpenUrl", "title": APPROVE_LABEL, "url": LONGEST}]
    feishu_card = feishu.render(digest)["card"]
    actions = [e for e in feishu_card["elements"] if e["tag"] == "action"]
    assert actions[0]["actions"][0]["url"] == LONGEST
    markdown = f"[{APPROVE_LABEL}]({LONGEST})"
    assert markdown in dingtalk.render(digest)["markdown"]["text"]
    assert markdown in wecom.render(digest)["markdown"]["content"]
    structure = json.loads(smn.render(digest)["message_structure"])
    assert LONGEST in structure["email"]
    assert LONGEST not in structure["sms"] and LONGEST not in structure["default"]  # 2,000 characters are no SMS

    assert utf8_size(wecom.render(digest)["markdown"]["content"]) <= wecom.CONTENT_LIMIT
    assert len(json_body(dingtalk.render(digest))) <= dingtalk.PAYLOAD_LIMIT
    assert len(json_body(feishu.render(digest))) <= feishu.PAYLOAD_LIMIT - 100
    answers = {
        "slack": check("slack", json_body(slack_message), {}, {}, None),
        "teams": check("teams", json_body(teams.render(digest)), {}, {}, None),
        "feishu": check("feishu", json_body(feishu.render(digest)), {}, {}, None),
        "dingtalk": check("dingtalk", json_body(dingtalk.render(digest)), {"access_token": "t"}, {}, None),
        "wecom": check("wecom", json_body(wecom.render(digest)), {"key": "k"}, {}, None),
    }
    assert answers["slack"] == (200, "ok")
    assert answers["teams"][1]["posted"] is True
    assert all(answer[1].get("code", answer[1].get("errcode")) == 0 for k, answer in answers.items() if k in (
        "feishu", "dingtalk", "wecom"))  # fmt: skip


def test_a_plan_waiting_for_approval_is_worth_sending_to_channels_that_want_changes() -> None:
    plain = plan_run(small_run()).model_copy(update={"approval": None, "jobs": []})
    assert not has_changes(plain)
    assert has_changes(plan_run(small_run()).model_copy(update={"jobs": []}))
    no_room = ApprovalOffer(unavailable="The request does not fit in an approval link.")
    assert has_changes(plain.model_copy(update={"approval": no_room}))  # the person learns why there is no link


def test_the_url_is_never_dumped_only_its_id_and_expiry() -> None:
    run = plan_run(small_run())
    for dumped in (run.model_dump(mode="json"), run.as_answer(), json.loads(run.model_dump_json())):
        assert dumped["approval"] == {"token_id": "t-0123456789ab", "expires_at": "2026-11-28T14:00:00Z",
                                      "unavailable": None}  # fmt: skip
    assert LONGEST not in repr(run)


def test_a_plan_without_a_link_says_why_and_an_approved_apply_says_from_which_link() -> None:
    unavailable = ApprovalOffer(unavailable="The request does not fit in an approval link (2,345 characters).")
    digest = build_digest(small_run().model_copy(update={"mode": "plan", "approval": unavailable}))
    assert digest.link is None
    assert digest.sections[0].lines == (f"No approval link: {unavailable.unavailable}",)

    source = ApprovalSource(
        token_id="t-0123456789ab", plan_id="p-3f0c2a9be1d47a65", issued_at=EXPIRES, expires_at=EXPIRES
    )
    applied = build_digest(small_run().model_copy(update={"trigger": "approval", "source": source}))
    assert applied.sections[0].heading == "Approval"
    assert applied.sections[0].lines == (
        "Applied from an approval link (t-0123456789ab, issued 2026-11-28 14:00 UTC) for plan p-3f0c2a9be1d47a65.",
    )
