"""Slack incoming webhook: Block Kit with a plain ``text`` fallback."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.notify.digest import Digest
from geminidb_patcher.notify.layout import section_texts

SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
ICONS = {"ok": ":white_check_mark:", "warning": ":hourglass_flowing_sand:", "failure": ":rotating_light:"}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(digest: Digest) -> dict[str, Any]:
    """The message: header, counts, one section per digest section (each ≤ 3000 characters), footer."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": _clip(digest.title, HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{ICONS[digest.severity]} {digest.counts_line}"}},
    ]
    sections = digest.sections[: MAX_BLOCKS - 3]
    for section in sections:
        heading = f"*{_escape(section.heading)}*\n"
        escaped = type(section)(section.heading, tuple(_escape(line) for line in section.lines))
        (body,) = section_texts([escaped], SECTION_TEXT_LIMIT - len(heading), len)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": heading + body}})
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": _escape(digest.footer)}]})
    return {"text": f"{digest.title}: {digest.counts_line}", "blocks": blocks}


def slack_ok(body: bytes) -> str | None:
    """Slack answers ``ok``; anything else names the refusal (``invalid_blocks``)."""
    return None if body.strip() in (b"ok", b"") else body.decode("utf-8", "replace")[:60]
