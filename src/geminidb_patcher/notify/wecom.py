"""WeCom group robot: markdown content within 4096 UTF-8 bytes; the URL's ``key`` is the credential."""

from __future__ import annotations

from typing import Any

from geminidb_patcher.notify.digest import Digest, utf8_size
from geminidb_patcher.notify.layout import inert, section_texts, within_limit

CONTENT_LIMIT = 4096
"""WeCom counts markdown ``content`` in UTF-8 bytes."""
THROTTLED = frozenset({45009})
"""WeCom's API rate limit ("api freq out of limit"): the message was not taken and may go again."""
COLORS = {"ok": "info", "warning": "comment", "failure": "warning"}


def render(digest: Digest, limit: int = CONTENT_LIMIT) -> dict[str, Any]:
    """Markdown whose ``content`` stays within ``limit`` bytes."""

    def build(budget: int) -> str:
        parts = [f"**{digest.title}**", f'<font color="{COLORS[digest.severity]}">{digest.counts_line}</font>']
        texts = section_texts(digest.sections, budget, utf8_size, bullet="> ", clean=inert)
        parts += [f"**{s.heading}**\n{text}" for s, text in zip(digest.sections, texts, strict=True)]
        if digest.link is not None:
            parts.append(f"**[{digest.link.label}]({digest.link.url})** ({digest.link.note})")
        parts.append(f'<font color="comment">{digest.footer}</font>')
        return "\n".join(parts)

    return {"msgtype": "markdown", "markdown": {"content": within_limit(limit, build, utf8_size)}}
