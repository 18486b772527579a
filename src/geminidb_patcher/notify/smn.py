"""Huawei Cloud SMN: publish to a topic with an e-mail version and a short SMS version of the digest."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from geminidb_patcher.contract.report import RunReport
from geminidb_patcher.huawei.auth import Authenticator
from geminidb_patcher.huawei.errors import DeadlineError, HuaweiError
from geminidb_patcher.huawei.http import JsonHttp
from geminidb_patcher.huawei.retry import may_retry_submission
from geminidb_patcher.notify.base import NotificationError
from geminidb_patcher.notify.digest import Digest, NotifyOn, utf8_size
from geminidb_patcher.notify.layout import section_texts, within_limit
from geminidb_patcher.retry import NOTIFY_RETRY, RetryPolicy, call_with_retries

SUBJECT_LIMIT = 512
SMS_LIMIT = 490
EMAIL_LIMIT = 64_000
"""SMN accepts 256 KB per message; a longer e-mail would not be read anyway."""


def topic_parts(topic_urn: str) -> tuple[str, str]:
    """``(region, project_id)`` of ``urn:smn:{region}:{project_id}:{name}``."""
    _, _, region, project_id, _ = topic_urn.split(":", 4)
    return region, project_id


def _clip_bytes(text: str, limit: int) -> str:
    encoded = text.encode()
    return text if len(encoded) <= limit else encoded[: limit - 3].decode("utf-8", "ignore") + "..."


def email_text(digest: Digest, limit: int = EMAIL_LIMIT) -> str:
    """Plain text: title, counts, every section (cut to fit), footer."""

    def build(budget: int) -> str:
        texts = section_texts(digest.sections, budget, utf8_size, bullet="  - ")
        parts = [digest.title, "=" * min(len(digest.title), 72), digest.counts_line]
        parts += [f"{s.heading}\n{text}" for s, text in zip(digest.sections, texts, strict=True)]
        if digest.link is not None:
            parts.append(f"{digest.link.label} ({digest.link.note}):\n{digest.link.url}")
        parts.append(digest.footer)
        return "\n\n".join(parts)

    return within_limit(limit, build, utf8_size)


SMS_ASCII = str.maketrans(
    {
        "\u00b7": "-",
        "\u2026": "...",
        "\u2192": "->",
        "\u2013": "-",
        "\u2014": "-",
        "\u201c": '"',
        "\u201d": '"',
        "\u2019": "'",
    }
)
"""The digest's own punctuation in ASCII: one non-ASCII character makes a whole SMS UCS-2 (70 characters a
segment instead of 160)."""


def sms_text(digest: Digest) -> str:
    """At most 490 characters, without the brackets SMS refuses, and in ASCII where the digest's own punctuation
    is the only reason it would not be."""
    text = f"{digest.title}: {digest.counts_line}. {digest.footer}".translate(SMS_ASCII)
    for bracket in "[]【】":
        text = text.replace(bracket, "")
    return text if len(text) <= SMS_LIMIT else text[: SMS_LIMIT - 3] + "..."


def render(digest: Digest) -> dict[str, Any]:
    """The PublishMessage body; ``message_structure`` is a JSON string with ``default`` (the short form),
    ``email`` (the whole digest) and ``sms``."""
    email = email_text(digest)
    short = sms_text(digest)
    # SMN sends "default" to every protocol without a key of its own (DingTalk, WeCom, Feishu, HTTP subscribers):
    # the short form goes there, the long text only to e-mail
    structure = {"default": short, "email": email, "sms": short}
    return {
        "subject": _clip_bytes(digest.title, SUBJECT_LIMIT),
        "message_structure": json.dumps(structure, ensure_ascii=False),
        "time_to_live": "3600",
    }


@dataclass(frozen=True, repr=False)
class SmnChannel:
    """A topic, published to with the function's own Huawei credentials (``smn:topic:publish``)."""

    name: str
    topic_urn: str
    endpoint: str
    http: JsonHttp
    auth: Authenticator
    notify_on: NotifyOn = "changes"
    sleep: Callable[[float], None] = time.sleep
    retry: RetryPolicy = NOTIFY_RETRY
    time_left: Callable[[], float | None] = lambda: None
    """Seconds the channels may still use (the sender's); bounds every call and pause."""

    def __repr__(self) -> str:
        return f"SmnChannel(name={self.name!r})"

    def send(self, report: RunReport, digest: Digest) -> int:
        """Publish; sent again only when it provably did not arrive (no connection, or 429)."""
        _, project_id = topic_parts(self.topic_urn)
        url = f"{self.endpoint}/v2/{project_id}/notifications/topics/{quote(self.topic_urn, safe=':')}/publish"
        body = render(digest)
        attempts = [0]

        def once() -> int:
            attempts[0] += 1
            left = self.time_left()
            if left is not None and left <= 0:
                raise DeadlineError("no time left before the deadline")
            self.http.request("POST", url, auth=self.auth, body=body, time_left=left)
            return attempts[0]

        def wait_after(error: Exception, attempt: int) -> float | None:
            if not isinstance(error, HuaweiError) or not may_retry_submission(error):
                return None
            return self.retry.delay(attempt, getattr(error, "retry_after", None))

        try:
            return call_with_retries(once, wait_after, time_left=self.time_left, sleep=self.sleep, retry_on=HuaweiError)
        except HuaweiError as error:
            raise NotificationError(self.name, error.error_code or type(error).__name__, attempts[0]) from None
