"""The reason vocabulary is the README's, in the README's order, and every hold the planner makes uses it."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from geminidb_patcher.contract.reasons import DEFER_REASONS, REASONS, SKIP_REASONS, reason_code, reason_of
from geminidb_patcher.contract.report import Outcome

README = (Path(__file__).resolve().parents[3] / "README.md").read_text(encoding="utf-8")


def without_parentheses(text: str) -> str:
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\([^()]*\)", "", text)
    return text


def test_the_readme_lists_the_skip_reasons_in_the_order_they_are_checked() -> None:
    paragraph = README[README.index("Skip reasons, checked in this order") :].split("\n\n", 1)[0]
    codes = re.findall(r"`([a-z_<>]+)`", without_parentheses(paragraph.split(":", 1)[1]))
    assert tuple(codes) == tuple(reason_code(reason, "<status>") for reason in SKIP_REASONS)


def test_the_readme_lists_the_deferral_reasons() -> None:
    (row,) = [line for line in README.splitlines() if line.startswith("| `deferred` |")]
    assert tuple(re.findall(r"`([a-z_]+)`", row.split("|")[2])) == DEFER_REASONS


def test_status_is_one_reason_whose_code_carries_the_status() -> None:
    assert reason_code("status", "frozen") == "status_frozen" and reason_of("status_frozen") == "status"
    assert reason_code("status", "") == "status_unknown"
    assert reason_of("waiting_for_standby") is None and reason_of("max_in_flight") == "max_in_flight"


def test_every_row_says_its_outcome_what_it_waits_for_and_whether_an_operator_must_act() -> None:
    assert [r for r, info in REASONS.items() if info.operator_must_act] == [
        "unsupported_engine", "status", "abnormal_node", "verify_failed", "last_upgrade_failed", "dr_role_unknown",
    ]  # fmt: skip
    assert all(info.waits_for is not None for r, info in REASONS.items() if info.outcome == "deferred")
    assert not any(info.waits_for and info.operator_must_act for info in REASONS.values())


def test_an_outcome_with_a_reason_outside_the_table_is_refused() -> None:
    with pytest.raises(ValidationError, match="not a reason of the table"):
        Outcome(instance_id="i", region="r", project_id="p", outcome="skipped", reason="waiting_for_standby")
    assert Outcome(instance_id="i", region="r", project_id="p", outcome="skipped", reason="status_frozen").reason
