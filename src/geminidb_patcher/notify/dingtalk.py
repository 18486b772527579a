"""DingTalk custom robot: markdown, with ``timestamp`` and ``sign`` in the URL when the robot has a secret."""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote_plus

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.notify.base import SignedChannel, json_body, json_code_check
from geminidb_patcher.notify.digest import Digest, utf8_size
from geminidb_patcher.notify.layout import inert, section_texts, within_limit

PAYLOAD_LIMIT = 20_000
PENALISED = 130101
"""DingTalk's rate limit: sending more than 20 messages a minute blocks the robot for 10 minutes, so it is not
retried (a retry inside a run's deadline cannot succeed); it is a failed delivery, logged with the code."""
"""DingTalk's documented cap for a robot message, in bytes."""
MARKS = {"ok": "✅", "warning": "⏳", "failure": "🚨"}


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's signature: HMAC-SHA256 keyed with the secret over ``"{timestamp}\\n{secret}"``, base64."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def render(digest: Digest, limit: int = PAYLOAD_LIMIT) -> dict[str, Any]:
    """A markdown message within ``limit`` bytes of JSON."""

    def build(budget: int) -> dict[str, Any]:
        parts = [f"### {digest.title}", f"**{MARKS[digest.severity]} {digest.counts_line}**"]
        texts = section_texts(digest.sections, budget, utf8_size, bullet="- ", clean=inert)
        parts += [f"**{s.heading}**\n\n{text}" for s, text in zip(digest.sections, texts, strict=True)]
        if digest.link is not None:
            parts.append(f"**[{digest.link.label}]({digest.link.url})** ({digest.link.note})")
        parts.append(f"###### {digest.footer}")
        return {"msgtype": "markdown", "markdown": {"title": digest.title[:64], "text": "\n\n".join(parts)}}

    return within_limit(limit, build, lambda payload: len(json_body(payload)))


@dataclass(frozen=True, repr=False)
class DingTalkChannel(SignedChannel):
    """A robot URL with its ``access_token``, and its signing secret (``SEC…``) when signing is on."""

    def send(self, report: RunReport, digest: Digest) -> int:
        """Render, sign and deliver; DingTalk answers 200 with ``errcode`` 0 on success."""
        url = self.url
        if self.secret:
            timestamp = int(self.clock() * 1000)
            sign = quote_plus(dingtalk_sign(self.secret, timestamp))
            url = f"{url}{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        return self.sender.post(self.name, url, json_body(render(digest)), check=json_code_check("errcode"))
