"""Scrub secrets from log records: known secret values, and anything shaped like a token, key or signature."""

from __future__ import annotations

import base64
import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from typing import Any, TextIO
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_KNOWN_LENGTH = 6
_TOKEN = re.compile(r"[\w+/=.:-]+")
"""A part of a space-separated list of secrets (webhook secrets during rotation); JSON values are not split."""
_QUERY_KEYS = ("access_token", "key", "sig", "sign", "token", "signature", "secret", "password", "code")
_HOOK_PATHS = ("hooks.slack.com/services/", "/open-apis/bot/v2/hook/", "/webhook/send?key=")
_HEADER_KEYS = ("authorization", "x-auth-token", "x-subject-token", "x-security-token", "password", "sk", "secret")
_PATTERNS: tuple[tuple[re.Pattern[str], str, tuple[str, ...]], ...] = (
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_" + MASK, ("whsec_",)),
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/\s:@\"']+:[^/\s@\"']*@", re.I), r"\1" + MASK + "@", ("://",)),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"), "v1," + MASK, ("v1,",)),
    (re.compile(r"(Access=)[^,\s\"]+"), r"\1" + MASK, ("access=",)),
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1" + MASK, ("signature=",)),
    (re.compile(r"\bMII[A-Za-z0-9+/=_-]{20,}"), MASK, ("mii",)),  # Huawei IAM tokens
    (
        re.compile(rf"([?&](?:{'|'.join(_QUERY_KEYS)})=)[^&\s\"']+", re.I),
        r"\1" + MASK,
        tuple(f"{key}=" for key in _QUERY_KEYS),
    ),
    (re.compile("(" + "|".join(re.escape(path) for path in _HOOK_PATHS) + r")[^\s\"']+"), r"\1" + MASK, _HOOK_PATHS),
    (
        re.compile(r"(\"(?:password|secret|sk|token)\"\s*:\s*\")[^\"]{4,}", re.I),
        r"\1" + MASK,
        ('"password"', '"secret"', '"sk"', '"token"'),
    ),
    (
        re.compile(rf"(\"(?:{'|'.join(_HEADER_KEYS)})\"\s*:\s*\")(?:[^\"\\]|\\.)+", re.I),
        r"\1" + MASK,
        tuple(f'"{key}"' for key in _HEADER_KEYS),
    ),
)
"""Each pattern, its replacement, and the lower-case literals one of which must be present for it to apply: a
substring test is far cheaper than a regular expression over a long log line, and most lines have none."""
_SENSITIVE_KEYS = frozenset(
    {"authorization", "x-auth-token", "x-subject-token", "x-security-token", "password", "sk", "secret"}
)


def clip(text: str, limit: int) -> str:
    """``text``, cut to at most ``limit`` characters with a trailing ``…`` when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Redactor(logging.Filter):
    """Masks secrets: as a filter, the message of each record (what any handler shows first); as a stream, the
    whole serialised line the JSON formatter writes, in one pass (``RedactingStream``)."""

    def __init__(self) -> None:
        super().__init__()
        self._known: frozenset[str] = frozenset()
        self._known_longest_first: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def remember(self, values: Iterable[str]) -> None:
        """Add configured secret values to mask wherever they appear, even where no pattern would catch them.

        Each is also remembered as it reads inside a JSON string (quotes, backslashes and non-ASCII escaped), so
        the serialised log line can be scanned once instead of every field of every record.
        """
        fresh = {value for value in values if len(value) >= MIN_KNOWN_LENGTH}
        for value in list(fresh):
            parts = value.split()
            if len(parts) > 1 and all(_TOKEN.fullmatch(part) for part in parts):  # a rotation list of tokens
                fresh.update(part for part in parts if len(part) >= MIN_KNOWN_LENGTH)
        fresh |= (
            {json.dumps(value)[1:-1] for value in fresh}
            | {json.dumps(value, ensure_ascii=False)[1:-1] for value in fresh}
            | {quote(value, safe="") for value in fresh}
            | {quote_plus(value, safe="") for value in fresh}
            | {base64.b64encode(value.encode()).decode().rstrip("=") for value in fresh}
        )
        with self._lock:
            if fresh <= self._known:
                return
            self._known = self._known | fresh
            self._known_longest_first = tuple(sorted(self._known, key=len, reverse=True))

    def text(self, value: str) -> str:
        """``value`` with every known secret and secret-shaped run masked."""
        if len(value) < MIN_KNOWN_LENGTH:
            return value
        for secret in self._known_longest_first:
            if secret in value:
                value = value.replace(secret, MASK)
        lowered = value.lower()
        for pattern, replacement, triggers in _PATTERNS:
            if any(trigger in lowered for trigger in triggers):
                value = pattern.sub(replacement, value)
        return value

    def scrub(self, value: Any, depth: int = 0) -> Any:
        """Redact strings inside any JSON-like value."""
        if depth > 20:
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {
                key: MASK if str(key).lower() in _SENSITIVE_KEYS and value[key] else self.scrub(value[key], depth + 1)
                for key in value
            }
        if isinstance(value, list | tuple):
            return [self.scrub(item, depth + 1) for item in value]
        return value

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message and arguments in place; the extra fields are masked in the line."""
        if isinstance(record.msg, str):
            record.msg = self.text(record.msg)
        if record.args:
            record.args = (
                tuple(self.scrub(arg) for arg in record.args) if isinstance(record.args, tuple) else record.args
            )
        return True


class RedactingStream:
    """A text stream that masks secrets in each serialised log line before passing it on."""

    def __init__(self, redactor: Redactor, target: Callable[[], TextIO]) -> None:
        self._redactor = redactor
        self._target = target

    def write(self, text: str) -> int:
        """Mask, then write to the target (looked up at each write, so tests and the CLI may redirect it)."""
        return self._target().write(self._redactor.text(text))

    def flush(self) -> None:
        """Flush the target."""
        self._target().flush()
