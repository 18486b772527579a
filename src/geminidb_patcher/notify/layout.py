"""Fitting a digest into a size limit: share the budget between sections, shrink until the payload fits."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

from geminidb_patcher.notify.digest import Section, fit_lines

T = TypeVar("T")
MIN_SECTION_TEXT = 40
INERT = str.maketrans({"<": "\u2039", ">": "\u203a"})


def inert(text: str) -> str:
    """Upstream text (an instance name, an error, a fail reason) made inert in chat markdown: no link can form
    (``](`` is split) and no tag (``<at …>``, ``<font>``, ``<@all>``: angle brackets become single guillemets),
    and it stays readable."""
    return text.replace("](", "] (").translate(INERT)


def share_budget(needs: Sequence[int], budget: int) -> list[int]:
    """Split ``budget``: small sections get what they need, large ones share the rest equally."""
    shares = [0] * len(needs)
    left = max(0, budget)
    order = sorted(range(len(needs)), key=lambda index: needs[index])
    for position, index in enumerate(order):
        fair = left // (len(needs) - position)
        shares[index] = min(needs[index], fair)
        left -= shares[index]
    return shares


def section_texts(
    sections: Sequence[Section],
    budget: int,
    measure: Callable[[str], int],
    bullet: str = "• ",
    joiner: str = "\n",
    clean: Callable[[str], str] = str,
) -> list[str]:
    """Each section's lines, bulleted and cut with ``… and N more`` so that all together fit ``budget``.

    Sections marked ``whole`` get all they need first (the one-line summaries a reader looks for); the others
    share what is left.
    """
    bulleted = [[f"{bullet}{clean(line)}" for line in section.lines] for section in sections]
    needs = [measure(joiner.join(lines)) for lines in bulleted]
    whole = [index for index, section in enumerate(sections) if section.whole]
    reserved = sum(needs[index] for index in whole)
    if reserved > budget:  # not even the summaries fit: share everything as before
        whole, reserved = [], 0
    rest = [index for index in range(len(sections)) if index not in whole]
    shares = [0] * len(sections)
    for index in whole:
        shares[index] = needs[index]
    for index, share in zip(rest, share_budget([needs[i] for i in rest], budget - reserved), strict=True):
        shares[index] = share
    return [
        fit_lines(lines, max(share, MIN_SECTION_TEXT), measure, joiner, bullet)
        for lines, share in zip(bulleted, shares, strict=True)
    ]


def within_limit(limit: int, build: Callable[[int], T], size: Callable[[T], int]) -> T:
    """``build(budget)`` with the largest budget whose result measures at most ``limit``."""
    budget = limit
    for _ in range(20):
        payload = build(budget)
        over = size(payload) - limit
        if over <= 0:
            return payload
        budget -= over + 16
    return build(0)
