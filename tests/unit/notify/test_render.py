"""The digest and each channel's rendering: golden files for a small, a failing and a 2,000-instance run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geminidb_local.simulator.receivers import check_slack
from geminidb_patcher.contract.reasons import WAITING_FOR
from geminidb_patcher.contract.report import EngineCompliance, NextStep, RunReport
from geminidb_patcher.contract.request import MAX_TARGETS, MAX_WAVES
from geminidb_patcher.notify import dingtalk, feishu, slack, smn, teams, wecom
from geminidb_patcher.notify.base import _vendor_reason, json_body
from geminidb_patcher.notify.digest import (
    Digest,
    Section,
    build_digest,
    compliance_line,
    fit_lines,
    forecast_line,
    has_changes,
    utf8_size,
    worth_sending,
)
from geminidb_patcher.notify.layout import share_budget
from tests.reports import failing_run, large_run, report, small_run

GOLDEN = Path(__file__).resolve().parents[2] / "golden"
RUNS: dict[str, Callable[[], RunReport]] = {"small": small_run, "failing": failing_run, "large": large_run}
RENDERERS: dict[str, Callable[[Any], dict[str, Any]]] = {
    "slack": slack.render,
    "teams": teams.render,
    "feishu": feishu.render,
    "dingtalk": dingtalk.render,
    "wecom": wecom.render,
    "smn": smn.render,
}


@pytest.mark.parametrize("channel", RENDERERS)
@pytest.mark.parametrize("run", RUNS)
def test_rendered_digest_matches_golden_file(run: str, channel: str) -> None:
    rendered = RENDERERS[channel](build_digest(RUNS[run]()))
    path = GOLDEN / f"{run}-{channel}.json"
    text = json.dumps(rendered, indent=2, ensure_ascii=False) + "\n"
    if os.environ.get("UPDATE_GOLDEN"):
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8"), f"{path.name} changed; rerun with UPDATE_GOLDEN=1 and review"


def test_large_run_is_cut_to_every_limit_with_a_count_of_the_rest() -> None:
    digest = build_digest(large_run())
    assert len(json_body(teams.render(digest))) <= teams.PAYLOAD_LIMIT
    assert len(json_body(feishu.render(digest))) <= feishu.PAYLOAD_LIMIT - 100
    assert len(json_body(dingtalk.render(digest))) <= dingtalk.PAYLOAD_LIMIT
    content = wecom.render(digest)["markdown"]["content"]
    assert utf8_size(content) <= wecom.CONTENT_LIMIT and "… and " in content
    blocks = slack.render(digest)["blocks"]
    assert all(len(b["text"]["text"]) <= slack.SECTION_TEXT_LIMIT for b in blocks if b["type"] == "section")
    structure = json.loads(smn.render(digest)["message_structure"])
    assert len(structure["sms"]) <= smn.SMS_LIMIT and utf8_size(structure["email"]) <= smn.EMAIL_LIMIT
    assert "… and " in json.dumps(teams.render(digest), ensure_ascii=False)


def test_digest_lists_instances_groups_holds_and_names_the_run() -> None:
    digest = build_digest(failing_run())
    headings = [section.heading for section in digest.sections]
    assert headings == [
        "Submitted (1)",
        "Rejected (1)",
        "Failed (1)",
        "Skipped (1) by reason",
        "Deferred (1) by reason",
        "Upgrade jobs ended since the last period (1)",
        "Targets not observed (1)",
        "Notes",
    ]
    assert digest.severity == "failure" and "5f0c3d9e" in digest.footer
    assert "influxdb-0004: Failed (Node restart timed out.)" in digest.sections[5].lines


def test_notify_on_rules() -> None:
    quiet = report([])
    assert not has_changes(quiet) and not worth_sending(quiet, "changes") and worth_sending(quiet, "always")
    assert worth_sending(small_run(), "changes") and not worth_sending(small_run(), "failures")
    assert worth_sending(failing_run(), "failures")


@given(
    lines=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters="\n"), max_size=40), max_size=60
    ),
    budget=st.integers(0, 800),
)
def test_fit_lines_never_exceeds_the_budget_and_counts_what_it_cut(lines: list[str], budget: int) -> None:
    text = fit_lines(lines, budget, utf8_size)
    assert utf8_size(text) <= budget
    if text and text != "\n".join(lines):
        kept = text.split("\n")
        assert kept[-1] == f"… and {len(lines) - (len(kept) - 1)} more"


@given(needs=st.lists(st.integers(0, 5000), max_size=10), budget=st.integers(0, 20000))
def test_share_budget_never_gives_more_than_needed_or_available(needs: list[int], budget: int) -> None:
    shares = share_budget(needs, budget)
    assert sum(shares) <= budget and all(s <= n for s, n in zip(shares, needs, strict=True))
    if sum(needs) <= budget:
        assert shares == needs


def _widest_standing() -> dict[str, Any]:
    """Compliance of 20 targets with six engines and ten versions each, and every kind of next step, ten waves."""
    compliance = [
        EngineCompliance(
            region="ap-southeast-1", project_id=f"{target:032x}", engine=engine, instances=5000, current=4321,
            behind=679, behind_not_patchable=123, ratio=0.8642,
            versions={f"3.11.5.{n}": 500 for n in range(10)},
        )
        for target in range(MAX_TARGETS)
        for engine in ("cassandra", "influxdb", "redis", "mongodb", "dynamodb", "hbase")
    ]  # fmt: skip
    moment = datetime(2026, 11, 27, 22, tzinfo=UTC)
    steps = [
        NextStep(waiting_for=kind, instances=12345, earliest_at=moment, latest_at=moment, within_a_day=2345)
        for kind in WAITING_FOR
        if kind != "wave"
    ]
    steps += [
        NextStep(waiting_for="wave", instances=1234, earliest_at=moment, wave=f"wave-{n:02d}-{'x' * 50}")
        for n in range(MAX_WAVES)
    ]
    return {"compliance": compliance, "next_steps": steps}


def test_the_compliance_and_next_lines_fit_every_channel_beside_a_large_run() -> None:
    standing = _widest_standing()
    digest = build_digest(large_run().model_copy(update=standing))
    lines = (compliance_line(standing["compliance"]), forecast_line(standing["next_steps"]))

    assert len(json_body(teams.render(digest))) <= teams.PAYLOAD_LIMIT
    assert len(json_body(feishu.render(digest))) <= feishu.PAYLOAD_LIMIT - 100
    assert len(json_body(dingtalk.render(digest))) <= dingtalk.PAYLOAD_LIMIT
    content = wecom.render(digest)["markdown"]["content"]
    assert utf8_size(content) <= wecom.CONTENT_LIMIT
    blocks = slack.render(digest)["blocks"]
    assert all(len(b["text"]["text"]) <= slack.SECTION_TEXT_LIMIT for b in blocks if b["type"] == "section")
    structure = json.loads(smn.render(digest)["message_structure"])
    assert len(structure["sms"]) <= smn.SMS_LIMIT and utf8_size(structure["email"]) <= smn.EMAIL_LIMIT
    for channel, rendered in {
        "teams": teams.render(digest), "feishu": feishu.render(digest), "dingtalk": dingtalk.render(digest),
        "wecom": wecom.render(digest), "slack": slack.render(digest), "smn email": structure["email"],
    }.items():  # fmt: skip
        text = rendered if isinstance(rendered, str) else json.dumps(rendered, ensure_ascii=False)
        assert all(line in text for line in lines), f"{channel} lost a compliance or next line"


def test_a_vendors_own_reason_for_a_refusal_is_kept_for_the_log() -> None:
    assert _vendor_reason(b"invalid_payload") == ": invalid_payload"
    assert _vendor_reason(b'{"ok": false, "error": "channel_not_found"}') == ": channel_not_found"
    assert _vendor_reason(b"") == "" and len(_vendor_reason(b"x" * 5000)) == 2 + 120


def test_a_slack_message_keeps_its_total_text_under_what_slack_accepts_and_says_what_is_left_out() -> None:
    sections = tuple(Section(f"Section {n}", tuple(f"line {n}.{i} " + "x" * 80 for i in range(40))) for n in range(12))
    digest = Digest("title", "warning", (("submitted", 480),), sections, "footer")
    message = slack.render(digest)
    total = sum(len(b["text"]["text"]) for b in message["blocks"] if "text" in b)
    total += sum(len(e["text"]) for b in message["blocks"] for e in b.get("elements", []))
    assert total <= slack.TOTAL_TEXT_LIMIT and "more section(s) in the run report" in json.dumps(message)
    assert check_slack(json_body(message), {}, {}, None) == (200, "ok")
    every_block_fits = {"blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "y" * 2_900}}] * 5}
    assert check_slack(json_body(every_block_fits), {}, {}, None) == (400, "msg_blocks_too_long")


def test_the_teams_receiver_answers_202_even_for_a_card_teams_would_not_post() -> None:
    """As the Workflows webhook does: the 202 means the flow started, not that the card reached the channel."""
    from geminidb_local.simulator.receivers import check_teams

    card = {"type": "AdaptiveCard", "version": "1.4", "body": [{"type": "TextBlock", "text": "x" * 15_000}]}
    wide = {
        "type": "message",
        "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive", "content": card}],
    }
    status, answer = check_teams(json.dumps(wide).encode(), {}, {}, None)
    assert status == 202 and answer == {"flow": "started", "posted": False, "problem": "MessageSizeTooBig"}


def test_a_crowded_run_keeps_the_next_and_compliance_lines_whole_in_every_channel() -> None:
    from geminidb_patcher.notify.digest import Digest, Section

    nxt = "next: 120 in their windows from 2026-11-28 02:00 to 2026-12-04 03:00 UTC; 40 wait for the standby " * 7
    crowded = Digest(
        title="GeminiDB patch apply (schedule) · ap-southeast-1/01234567…",
        severity="ok",
        counts=(("submitted", 5000),),
        sections=(
            Section("Compliance", ("cassandra 10/40 current · redis 5/20 current",), whole=True),
            Section("Next", (nxt.strip(),), whole=True),
            *(
                Section(f"{kind} (5000)", tuple(f"cassandra-{n:04d} (cassandra): {kind} {n}" for n in range(5000)))
                for kind in ("Submitted", "Rejected", "Failed", "Skipped", "Deferred", "Jobs", "Notes")
            ),
        ),
        footer="Run r-1",
    )
    rendered = {
        "wecom": wecom.render(crowded)["markdown"]["content"],
        "dingtalk": json.dumps(dingtalk.render(crowded), ensure_ascii=False),
        "teams": json.dumps(teams.render(crowded), ensure_ascii=False),
        "slack": json.dumps(slack.render(crowded), ensure_ascii=False),
    }
    for name, text in rendered.items():
        assert nxt.strip() in text and "redis 5/20 current" in text, name
        assert "… and " in text, name
    assert "\n> … and " in rendered["wecom"]  # the "more" line stays inside the quote


def test_the_sms_form_is_ascii_so_it_is_not_sent_as_ucs2() -> None:
    sms = json.loads(smn.render(build_digest(small_run()))["message_structure"])["sms"]
    assert sms.isascii() and "·" not in sms


def test_upstream_text_cannot_form_a_link_or_a_tag_in_any_markdown_channel() -> None:
    from geminidb_patcher.notify.digest import Digest, Section

    hostile = 'orders-1: Disk full [reset it here](https://evil.example/x) <at user_id="all"></at> <font color=red>'
    digest = Digest(
        title="GeminiDB patch apply (schedule)",
        severity="failure",
        counts=(("failed", 1),),
        sections=(Section("Failed (1)", (hostile,)),),
        footer="Run r-1",
    )
    rendered = {
        "wecom": wecom.render(digest)["markdown"]["content"],
        "dingtalk": dingtalk.render(digest)["markdown"]["text"],
        "teams": json.dumps(teams.render(digest), ensure_ascii=False),
        "feishu": json.dumps(feishu.render(digest), ensure_ascii=False),
    }
    for name, text in rendered.items():
        assert "](https://evil" not in text and "<at " not in text and "<font color=red" not in text, name
        assert "reset it here" in text and "evil.example" in text, name  # still readable, only inert
