"""Microsoft Teams through a Workflows webhook: an Adaptive Card 1.4 in a message attachment."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.notify.base import json_body
from geminidb_patcher.notify.digest import Digest
from geminidb_patcher.notify.layout import inert, section_texts, within_limit

PAYLOAD_LIMIT = 24_000
"""Bytes of the payload in UTF-16, as Microsoft counts a message's size: Teams refuses messages over about 28 KB
so counted (an ASCII card of ~21 KB in UTF-8 is ~42 KB to Teams). 24,000 leaves a seventh of margin for what
the flow adds. The Workflows webhook answers 202 before the flow posts: a refused card is lost silently there."""


def utf16_size(text: str) -> int:
    """Bytes of ``text`` in UTF-16: two per character, four for one outside the BMP (an emoji)."""
    return len(text.encode("utf-16-le"))


COLORS = {"ok": "Good", "warning": "Warning", "failure": "Attention"}


def render(digest: Digest, limit: int = PAYLOAD_LIMIT) -> dict[str, Any]:
    """The card, cut so the whole JSON payload stays within ``limit`` bytes as UTF-16."""

    def build(budget: int) -> dict[str, Any]:
        body: list[dict[str, Any]] = [
            {"type": "TextBlock", "text": digest.title, "weight": "Bolder", "size": "Medium", "wrap": True},
            {"type": "TextBlock", "text": digest.counts_line, "color": COLORS[digest.severity], "wrap": True},
        ]
        texts = section_texts(digest.sections, budget, utf16_size, bullet="- ", joiner="\r", clean=inert)
        for section, text in zip(digest.sections, texts, strict=True):
            body.append({"type": "TextBlock", "text": section.heading, "weight": "Bolder", "wrap": True})
            body.append({"type": "TextBlock", "text": text, "wrap": True, "spacing": "Small"})
        footer = f"{digest.link.note.capitalize()} · {digest.footer}" if digest.link else digest.footer
        body.append({"type": "TextBlock", "text": footer, "isSubtle": True, "size": "Small", "wrap": True})
        card: dict[str, Any] = {
            "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
            "type": "AdaptiveCard",
            "version": "1.4",
            "body": body,
        }
        if digest.link is not None:
            card["actions"] = [{"type": "Action.OpenUrl", "title": digest.link.label, "url": digest.link.url}]
        return {
            "type": "message",
            "attachments": [
                {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}
            ],
        }

    return within_limit(limit, build, lambda payload: utf16_size(json_body(payload).decode()))
