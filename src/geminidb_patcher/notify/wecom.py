"""WeCom group robot: markdown content within 4096 UTF-8 bytes; the URL's ``key`` is the credential."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geminidb_patcher.models import RunReport
from geminidb_patcher.notify.base import Sender, json_body, json_code_check
from geminidb_patcher.notify.digest import Digest, NotifyOn, utf8_size
from geminidb_patcher.notify.layout import section_texts, within_limit

CONTENT_LIMIT = 4096
"""WeCom counts markdown ``content`` in UTF-8 bytes."""
COLORS = {"ok": "info", "warning": "comment", "failure": "warning"}


def render(digest: Digest, limit: int = CONTENT_LIMIT) -> dict[str, Any]:
    """Markdown whose ``content`` stays within ``limit`` bytes."""

    def build(budget: int) -> str:
        parts = [f"**{digest.title}**", f'<font color="{COLORS[digest.severity]}">{digest.counts_line}</font>']
        texts = section_texts(digest.sections, budget, utf8_size, bullet="> ")
        parts += [f"**{s.heading}**\n{text}" for s, text in zip(digest.sections, texts, strict=True)]
        parts.append(f'<font color="comment">{digest.footer}</font>')
        return "\n".join(parts)

    return {"msgtype": "markdown", "markdown": {"content": within_limit(limit, build, utf8_size)}}


@dataclass(frozen=True, repr=False)
class WeComChannel:
    """A group-robot URL (``…/webhook/send?key=…``)."""

    name: str
    url: str
    sender: Sender
    notify_on: NotifyOn = "changes"

    def __repr__(self) -> str:
        return f"WeComChannel(name={self.name!r})"

    def send(self, report: RunReport, digest: Digest) -> int:
        """Render and deliver; WeCom answers 200 with ``errcode`` 0 on success."""
        return self.sender.post(self.name, self.url, json_body(render(digest)), check=json_code_check("errcode"))
