"""Notification receivers that check what each vendor checks: shape, size limits and signatures.

They are written from the vendors' documentation, independently of the function's channel code, so a test
that passes here shows the function agrees with the documented rules, not with itself.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

Answer = tuple[int, Any]
KINDS = ("slack", "teams", "feishu", "dingtalk", "wecom", "webhook")
SLACK_SECTION_TEXT = 3000
SLACK_HEADER_TEXT = 150
SLACK_BLOCKS = 50
SLACK_TOTAL_TEXT = 12_000
"""Slack refuses a message whose blocks carry more text than about 12,000-13,000 characters in all."""
TEAMS_BYTES = 28_000
"""Teams' message size limit, counted in UTF-16 bytes."""
FEISHU_BYTES = 20_000
DINGTALK_BYTES = 20_000
WECOM_MARKDOWN_BYTES = 4096
SIGNATURE_WINDOW_SECONDS = 3600


@dataclass
class ReceiverConfig:
    """Per channel name: its signing secret, and failures to answer before it accepts."""

    secrets: dict[str, str] = field(default_factory=dict)
    failures: dict[str, list[int | str]] = field(default_factory=dict)
    """An HTTP status to answer instead, or ``"throttled"``: the vendor's own rate-limit answer."""


THROTTLED_ANSWERS: dict[str, Any] = {
    "feishu": {"code": 11232, "msg": "frequency limited"},
    "wecom": {"errcode": 45009, "errmsg": "api freq out of limit"},
    "dingtalk": {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"},
    "slack": "rate_limited",
}
"""How each service says "too many messages" (Slack with a 429 and this body; the others with a 200)."""


def throttled(kind: str) -> Answer:
    """The service's own rate-limit answer."""
    answer = THROTTLED_ANSWERS.get(kind, {"error": "throttled"})
    return (429 if kind in ("slack", "teams", "webhook") else 200), answer


def _json(raw: bytes) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return None


def check_slack(raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None) -> Answer:
    """Incoming webhooks: ``text`` or ``blocks``; ≤ 50 blocks; header ≤ 150, section text ≤ 3000 characters."""
    body = _json(raw)
    if not isinstance(body, dict) or not (body.get("text") or body.get("blocks")):
        return 400, "no_text"
    blocks = body.get("blocks", [])
    if not isinstance(blocks, list) or len(blocks) > SLACK_BLOCKS:
        return 400, "invalid_blocks"
    for block in blocks:
        kind = block.get("type") if isinstance(block, dict) else None
        text = block.get("text", {}) if isinstance(block, dict) else {}
        if kind == "header" and (text.get("type") != "plain_text" or len(text.get("text", "")) > SLACK_HEADER_TEXT):
            return 400, "invalid_blocks"
        if kind == "section" and (
            text.get("type") not in ("mrkdwn", "plain_text") or not 0 < len(text.get("text", "")) <= SLACK_SECTION_TEXT
        ):
            return 400, "invalid_blocks"
        if kind == "actions" and not _slack_buttons_ok(block.get("elements")):
            return 400, "invalid_blocks"
        if kind not in ("header", "section", "context", "divider", "actions"):
            return 400, "invalid_blocks"
    total = sum(len(str(_dict_text(block))) for block in blocks)
    if total > SLACK_TOTAL_TEXT:
        return 400, "msg_blocks_too_long"
    return 200, "ok"


SLACK_BUTTON_TEXT = 75
SLACK_BUTTON_URL = 3000
SLACK_ACTION_ELEMENTS = 25


def _slack_buttons_ok(elements: Any) -> bool:
    """An actions block of link buttons: 1-25 elements, plain_text ≤ 75 characters, url ≤ 3000, a known style."""
    if not isinstance(elements, list) or not 0 < len(elements) <= SLACK_ACTION_ELEMENTS:
        return False
    for element in elements:
        text = element.get("text") if isinstance(element, dict) else None
        if (
            not isinstance(text, dict)
            or element.get("type") != "button"
            or text.get("type") != "plain_text"
            or not 0 < len(str(text.get("text", ""))) <= SLACK_BUTTON_TEXT
            or not 0 < len(str(element.get("url", "x"))) <= SLACK_BUTTON_URL
            or element.get("style", "primary") not in ("primary", "danger")
        ):
            return False
    return True


def _dict_text(block: Any) -> str:
    """The text a block carries: its own, or its elements' (a context block)."""
    if not isinstance(block, dict):
        return ""
    own = block.get("text", {})
    texts = [own.get("text", "")] if isinstance(own, dict) else []
    texts += [e.get("text", "") for e in block.get("elements", []) if isinstance(e, dict)]
    return "".join(str(t) for t in texts)


def check_teams(raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None) -> Answer:
    """Workflows webhook: it answers 202 to any request it takes, before the flow posts the card; whether Teams
    would post it (a ``message`` with one Adaptive Card, at most 28 KB counted in UTF-16) is in the answer the
    inbox records, for tests: ``posted`` and, when not, ``problem``. The real webhook's 202 has no body."""
    problem = _teams_problem(raw)
    return 202, {"flow": "started", "posted": problem is None, **({"problem": problem} if problem else {})}


def _teams_problem(raw: bytes) -> str | None:
    """Why Teams would not post this card, or ``None``."""
    body = _json(raw)
    if not isinstance(body, dict):
        return "InvalidRequestContent"
    if len(json.dumps(body, ensure_ascii=False).encode("utf-16-le")) > TEAMS_BYTES:
        return "MessageSizeTooBig"
    attachments = body.get("attachments")
    if body.get("type") != "message" or not isinstance(attachments, list) or not attachments:
        return "InvalidRequestContent"
    card = attachments[0].get("content") if isinstance(attachments[0], dict) else None
    if (
        attachments[0].get("contentType") != "application/vnd.microsoft.card.adaptive"
        or not isinstance(card, dict)
        or card.get("type") != "AdaptiveCard"
        or card.get("version") not in ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")
        or not isinstance(card.get("body"), list)
        or not all(isinstance(e, dict) and e.get("type") for e in card["body"])
        or not all(
            isinstance(a, dict) and a.get("type") == "Action.OpenUrl" and a.get("title") and a.get("url")
            for a in card.get("actions", [])
        )
    ):
        return "InvalidRequestContent"
    return None


def _within(timestamp: float, now: float) -> bool:
    return abs(now - timestamp) <= SIGNATURE_WINDOW_SECONDS


def check_feishu(
    raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None, now: float
) -> Answer:
    """Custom bot: ``msg_type`` and its content, ≤ 20 KB, and with a secret ``timestamp`` + ``sign`` in the body."""
    if len(raw) > FEISHU_BYTES:
        return 200, {"code": 9499, "msg": "request body too large"}
    body = _json(raw)
    if not isinstance(body, dict) or body.get("msg_type") not in ("text", "post", "interactive"):
        return 200, {"code": 19002, "msg": "params error, msg_type need"}
    if body["msg_type"] == "interactive" and not isinstance(body.get("card"), dict):
        return 200, {"code": 19002, "msg": "card is required"}
    if secret:
        stamp, sign = body.get("timestamp"), body.get("sign")
        if not (isinstance(stamp, str) and stamp.isdigit() and isinstance(sign, str)) or not _within(int(stamp), now):
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
        key = f"{stamp}\n{secret}".encode()
        expected = base64.b64encode(hmac.new(key, digestmod=hashlib.sha256).digest()).decode()
        if not hmac.compare_digest(expected, sign):
            return 200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
    return 200, {"code": 0, "msg": "success", "data": {}}


def check_dingtalk(
    raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None, now: float
) -> Answer:
    """Custom robot: ``access_token``; with a secret, ``timestamp`` (ms) and URL-encoded ``sign``; ≤ 20000 bytes."""
    if not query.get("access_token"):
        return 200, {"errcode": 300001, "errmsg": "token is not exist"}
    if secret:
        stamp, sign = query.get("timestamp", ""), query.get("sign", "")
        if not stamp.isdigit() or not _within(int(stamp) / 1000, now):
            return 200, {"errcode": 310000, "errmsg": "sign not match, more: timestamp out of range"}
        mac = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
        if not hmac.compare_digest(base64.b64encode(mac).decode(), unquote(sign)):
            return 200, {"errcode": 310000, "errmsg": "sign not match"}
    if len(raw) > DINGTALK_BYTES:
        return 200, {"errcode": 460101, "errmsg": "message too long"}
    body = _json(raw)
    markdown = body.get("markdown") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("msgtype") != "markdown" or not isinstance(markdown, dict):
        return 200, {"errcode": 40035, "errmsg": "missing parameter msgtype/markdown"}
    if not markdown.get("title") or not markdown.get("text"):
        return 200, {"errcode": 40035, "errmsg": "markdown needs title and text"}
    return 200, {"errcode": 0, "errmsg": "ok"}


def check_wecom(raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None) -> Answer:
    """Group robot: ``key``; markdown ``content`` ≤ 4096 bytes of UTF-8."""
    if not query.get("key"):
        return 200, {"errcode": 93000, "errmsg": "invalid webhook url"}
    body = _json(raw)
    markdown = body.get("markdown") if isinstance(body, dict) else None
    if not isinstance(body, dict) or body.get("msgtype") != "markdown" or not isinstance(markdown, dict):
        return 200, {"errcode": 40008, "errmsg": "invalid message type"}
    content = markdown.get("content")
    if not isinstance(content, str) or not content:
        return 200, {"errcode": 41009, "errmsg": "missing content"}
    if len(content.encode()) > WECOM_MARKDOWN_BYTES:
        return 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}
    return 200, {"errcode": 0, "errmsg": "ok"}


def standard_webhook_signed(secret: str, headers: Mapping[str, str], raw: bytes, now: float, tolerance: int) -> bool:
    """The Standard Webhooks rule as its specification states it (not the function's code): HMAC-SHA256 with the
    secret's base64 key over ``{webhook-id}.{webhook-timestamp}.{body}``, base64, one of the space-separated
    ``v1,`` signatures; the timestamp within ``tolerance`` seconds."""
    lowered = {name.lower(): value for name, value in headers.items()}
    msg_id, stamp = lowered.get("webhook-id", ""), lowered.get("webhook-timestamp", "")
    if not (msg_id and stamp.isdigit() and abs(now - int(stamp)) <= tolerance):
        return False
    key_text = secret.removeprefix("whsec_")
    key = base64.b64decode(key_text + "=" * (-len(key_text) % 4))
    expected = base64.b64encode(hmac.new(key, f"{msg_id}.{stamp}.".encode() + raw, hashlib.sha256).digest())
    offered = [part[3:].encode() for part in lowered.get("webhook-signature", "").split() if part.startswith("v1,")]
    return any(hmac.compare_digest(expected, candidate) for candidate in offered)


def check_webhook(raw: bytes, query: Mapping[str, str], headers: Mapping[str, str], secret: str | None) -> Answer:
    """A Standard Webhooks receiver: the signature over the raw body, when a secret is set."""
    if secret and not standard_webhook_signed(secret, headers, raw, time.time(), 300):
        return 401, {"error": "bad signature"}
    if not isinstance(_json(raw), dict):
        return 400, {"error": "not JSON"}
    return 204, ""


def check(
    kind: str,
    raw: bytes,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    secret: str | None,
    now: Callable[[], float] = time.time,
) -> Answer:
    """Answer as vendor ``kind`` would."""
    if kind == "feishu":
        return check_feishu(raw, query, headers, secret, now())
    if kind == "dingtalk":
        return check_dingtalk(raw, query, headers, secret, now())
    checks = {"slack": check_slack, "teams": check_teams, "wecom": check_wecom, "webhook": check_webhook}
    return checks[kind](raw, query, headers, secret)


SMN_SUBJECT_BYTES = 512
SMN_MESSAGE_BYTES = 256 * 1024
SMN_SMS_CHARS = 490
SMN_TTL_MAX_SECONDS = 86_400
SMN_TAG_KEY_CHARS = 21
SMN_TAG_VALUE_BYTES = 1024
SMN_FIELDS = frozenset(
    {"subject", "message", "message_structure", "message_template_name", "tags", "time_to_live",
     "message_attributes", "locale"}
)  # fmt: skip
"""``PublishMessageRequestBody``'s fields (SMN SDK 3.1.219)."""


def _smn_error(status: int, code: str, message: str) -> Answer:
    return status, {"code": code, "message": message}


def check_smn_publish(body: Any, templates: frozenset[str] = frozenset()) -> Answer:
    """PublishMessage as the SMN SDK documents it.

    One of ``message_structure`` > ``message_template_name`` (with ``tags``) > ``message`` takes effect;
    ``message_structure`` is a JSON string with ``default``, SMS ≤ 490 characters without brackets;
    ``time_to_live`` is a positive whole number of seconds ≤ 86400; an unknown template is SMN.0027.
    """
    if not isinstance(body, dict) or set(body) - SMN_FIELDS:
        return _smn_error(400, "SMN.0009", "invalid message")
    subject = body.get("subject", "")
    if not isinstance(subject, str) or len(subject.encode()) > SMN_SUBJECT_BYTES:
        return _smn_error(400, "SMN.0009", "subject too long")
    ttl = body.get("time_to_live", "3600")
    if not isinstance(ttl, str) or not ttl.isdigit() or not 0 < int(ttl) <= SMN_TTL_MAX_SECONDS:
        return _smn_error(400, "SMN.0009", "time_to_live must be 1 to 86400 seconds")
    structure = body.get("message_structure")
    template = body.get("message_template_name")
    if structure is None and template is None:
        message = body.get("message")
        if not isinstance(message, str) or not message or len(message.encode()) > SMN_MESSAGE_BYTES:
            return _smn_error(400, "SMN.0009", "invalid message")
        return 200, {}
    if structure is None:
        tags = body.get("tags")
        if not isinstance(template, str) or not isinstance(tags, dict):
            return _smn_error(400, "SMN.0009", "a message template needs tags")
        if any(
            not isinstance(key, str)
            or len(key) > SMN_TAG_KEY_CHARS
            or not isinstance(value, str)
            or len(value.encode()) > SMN_TAG_VALUE_BYTES
            for key, value in tags.items()
        ):
            return _smn_error(400, "SMN.0009", "invalid tags")
        if template not in templates:
            return _smn_error(404, "SMN.0027", "message template not found")
        return 200, {}
    if not isinstance(structure, str) or len(structure.encode()) > SMN_MESSAGE_BYTES:
        return _smn_error(400, "SMN.0021", "invalid message_structure")
    parsed = _json(structure.encode())
    if not isinstance(parsed, dict) or not isinstance(parsed.get("default"), str):
        return _smn_error(400, "SMN.0021", "message_structure needs default")
    sms = parsed.get("sms", "")
    if not isinstance(sms, str) or len(sms) > SMN_SMS_CHARS or any(b in sms for b in "[]【】"):
        return _smn_error(400, "SMN.0021", "invalid sms message")
    return 200, {}
