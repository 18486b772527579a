"""The reason vocabulary is the README's, in the README's order, and every hold the planner makes uses it."""

from __future__ import annotations

import re
from pathlib import Path

from geminidb_patcher.reconcile.reasons import DEFER_REASONS, SKIP_REASONS, is_reason, status_reason

README = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")


def without_parentheses(text: str) -> str:
    while re.search(r"\([^()]*\)", text):
        text = re.sub(r"\([^()]*\)", "", text)
    return text


def test_the_readme_lists_the_skip_reasons_in_the_order_they_are_checked() -> None:
    paragraph = README[README.index("Skip reasons, checked in this order") :].split("\n\n", 1)[0]
    codes = re.findall(r"`([a-z_<>]+)`", without_parentheses(paragraph.split(":", 1)[1]))
    assert tuple(codes) == SKIP_REASONS


def test_the_readme_lists_the_deferral_reasons() -> None:
    (row,) = [line for line in README.splitlines() if line.startswith("| `deferred` |")]
    assert tuple(re.findall(r"`([a-z_]+)`", row.split("|")[2])) == DEFER_REASONS


def test_status_reasons_belong_to_the_vocabulary() -> None:
    assert status_reason("frozen") == "status_frozen" and is_reason("status_frozen")
    assert status_reason("") == "status_unknown"
    assert not is_reason("waiting_for_standby")
