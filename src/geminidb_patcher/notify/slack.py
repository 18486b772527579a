"""Slack incoming webhook: Block Kit with a plain ``text`` fallback."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.notify.base import Refusal
from geminidb_patcher.notify.digest import Digest
from geminidb_patcher.notify.layout import section_texts
from geminidb_patcher.redaction import clip

SECTION_TEXT_LIMIT = 3000
HEADER_LIMIT = 150
MAX_BLOCKS = 50
MIN_SECTION_ROOM = 80
"""The least room worth a section; also kept back for the line that says how many sections were left out."""
TOTAL_TEXT_LIMIT = 11_000
"""Characters of text across all blocks: Slack refuses longer messages (``msg_blocks_too_long``, reported at about
12,000-13,000 characters) although every block is within its own limit."""
ICONS = {"ok": ":white_check_mark:", "warning": ":hourglass_flowing_sand:", "failure": ":rotating_light:"}


def _escape(text: str) -> str:
    """Slack's three control characters in mrkdwn."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def render(digest: Digest) -> dict[str, Any]:
    """The message: header, counts, one section per digest section (each ≤ 3000 characters), footer."""
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": clip(digest.title, HEADER_LIMIT)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"{ICONS[digest.severity]} {digest.counts_line}"}},
    ]
    sections = digest.sections[: MAX_BLOCKS - 4]
    footer = _escape(digest.footer)
    left = TOTAL_TEXT_LIMIT - sum(len(b["text"]["text"]) for b in blocks) - len(footer) - MIN_SECTION_ROOM
    for number, section in enumerate(sections):
        heading = f"*{_escape(section.heading)}*\n"
        room = min(SECTION_TEXT_LIMIT, left) - len(heading)
        if room < MIN_SECTION_ROOM:  # no room for another section: say what is left out, and where it is
            rest = len(sections) - number
            note = f"… {rest} more section(s) in the run report."
            blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": note}]})
            break
        escaped = type(section)(section.heading, tuple(_escape(line) for line in section.lines))
        (body,) = section_texts([escaped], room, len)
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": heading + body}})
        left -= len(heading) + len(body)
    if digest.link is not None:
        button = {"type": "button", "text": {"type": "plain_text", "text": digest.link.label}, "url": digest.link.url}
        blocks.append({"type": "actions", "elements": [{**button, "style": "primary"}]})
        footer = f"{_escape(digest.link.note.capitalize())} · {footer}"
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": footer}]})
    return {"text": f"{digest.title}: {digest.counts_line}", "blocks": blocks}


def slack_ok(body: bytes) -> Refusal | None:
    """Slack answers ``ok``; anything else names the refusal (``invalid_blocks``)."""
    return None if body.strip() in (b"ok", b"") else Refusal(body.decode("utf-8", "replace")[:60])
