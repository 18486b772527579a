"""The digest and each channel's rendering: golden files for a small, a failing and a 2,000-instance run."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from geminidb_patcher.models import RunReport
from geminidb_patcher.notify import dingtalk, feishu, slack, smn, teams, wecom
from geminidb_patcher.notify.base import json_body
from geminidb_patcher.notify.digest import build_digest, fit_lines, has_changes, utf8_size, worth_sending
from geminidb_patcher.notify.layout import share_budget
from tests.reports import failing_run, large_run, report, small_run

GOLDEN = Path(__file__).resolve().parents[1] / "golden"
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
