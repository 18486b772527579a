"""Feishu / Lark custom bot: an interactive card, signed when the bot has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.notify.base import SignedChannel, json_body, json_code_check
from geminidb_patcher.notify.digest import Digest, utf8_size
from geminidb_patcher.notify.layout import inert, section_texts, within_limit

PAYLOAD_LIMIT = 20_000
THROTTLED = frozenset({11232})
"""Feishu's custom-bot rate limit ("frequency limited"): the message was not taken and may go again."""
"""Feishu refuses custom-bot requests over 20 KB."""
TEMPLATES = {"ok": "green", "warning": "orange", "failure": "red"}


def feishu_sign(secret: str, timestamp: int) -> str:
    """Feishu's signature: HMAC-SHA256 keyed with ``"{timestamp}\\n{secret}"`` over an empty message, base64."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def render(digest: Digest, limit: int = PAYLOAD_LIMIT) -> dict[str, Any]:
    """The card message, cut so the JSON payload stays within ``limit`` bytes (room is left for the signature)."""

    def build(budget: int) -> dict[str, Any]:
        elements: list[dict[str, Any]] = [
            {"tag": "div", "text": {"tag": "lark_md", "content": f"**{digest.counts_line}**"}}
        ]
        texts = section_texts(digest.sections, budget, utf8_size, bullet="• ", clean=inert)
        for section, text in zip(digest.sections, texts, strict=True):
            elements.append({"tag": "hr"})
            elements.append({"tag": "div", "text": {"tag": "lark_md", "content": f"**{section.heading}**\n{text}"}})
        footer = digest.footer
        if digest.link is not None:
            label = {"tag": "plain_text", "content": digest.link.label}
            button = {"tag": "button", "text": label, "type": "primary", "url": digest.link.url}
            elements.append({"tag": "action", "actions": [button]})
            footer = f"{digest.link.note.capitalize()} · {footer}"
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": footer}]})
        return {
            "msg_type": "interactive",
            "card": {
                "config": {"wide_screen_mode": True},
                "header": {
                    "template": TEMPLATES[digest.severity],
                    "title": {"tag": "plain_text", "content": digest.title},
                },
                "elements": elements,
            },
        }

    return within_limit(limit - 100, build, lambda payload: len(json_body(payload)))


@dataclass(frozen=True, repr=False)
class FeishuChannel(SignedChannel):
    """A custom-bot webhook URL, and its signing secret when "signature verification" is on."""

    def send(self, report: RunReport, digest: Digest) -> int:
        """Render, sign and deliver; Feishu answers 200 with ``code`` 0 on success."""
        payload = render(digest)
        if self.secret:
            timestamp = int(self.clock())
            payload = {"timestamp": str(timestamp), "sign": feishu_sign(self.secret, timestamp), **payload}
        check = json_code_check("code", "StatusCode", throttled=THROTTLED)
        return self.sender.post(self.name, self.url, json_body(payload), check=check)
