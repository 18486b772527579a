"""Scrub secrets from log records: known secret values, and anything shaped like a token, key or signature."""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

MASK = "***"
MIN_KNOWN_LENGTH = 6
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"whsec_[A-Za-z0-9+/=]+"), "whsec_" + MASK),
    (re.compile(r"\bv1,[A-Za-z0-9+/]{20,}={0,2}"), "v1," + MASK),
    (re.compile(r"(Access=)[^,\s\"]+"), r"\1" + MASK),
    (re.compile(r"(Signature=)[0-9a-fA-F]+"), r"\1" + MASK),
    (re.compile(r"\bMII[A-Za-z0-9+/=_-]{20,}"), MASK),  # Huawei IAM tokens
    (
        re.compile(r"([?&](?:access_token|key|sig|sign|token|signature|secret|password|code)=)[^&\s\"']+", re.I),
        r"\1" + MASK,
    ),
    (re.compile(r"(hooks\.slack\.com/services/|/open-apis/bot/v2/hook/|/webhook/send\?key=)[^\s\"']+"), r"\1" + MASK),
    (re.compile(r"(\"(?:password|secret|sk|token)\"\s*:\s*\")[^\"]{4,}", re.I), r"\1" + MASK),
)
_ANY_SHAPE = re.compile(
    "|".join(f"(?{'i' if pattern.flags & re.IGNORECASE else ''}:{pattern.pattern})" for pattern, _ in _PATTERNS)
)
"""One pass that tells whether any of the patterns could apply; most strings (IDs, names) have none."""
_SENSITIVE_KEYS = frozenset(
    {"authorization", "x-auth-token", "x-subject-token", "x-security-token", "password", "sk", "secret"}
)


class Redactor(logging.Filter):
    """A logging filter that rewrites the message and every extra field of each record before it is formatted."""

    def __init__(self) -> None:
        super().__init__()
        self._known: frozenset[str] = frozenset()
        self._known_pattern: re.Pattern[str] | None = None
        self._lock = threading.Lock()

    def remember(self, values: Iterable[str]) -> None:
        """Add configured secret values to mask wherever they appear, even where no pattern would catch them."""
        fresh = {value for value in values if len(value) >= MIN_KNOWN_LENGTH}
        for value in list(fresh):
            fresh.update(part for part in value.split() if len(part) >= MIN_KNOWN_LENGTH)  # rotation lists
        with self._lock:
            if fresh <= self._known:
                return
            self._known = self._known | fresh
            longest_first = sorted(self._known, key=len, reverse=True)
            self._known_pattern = re.compile("|".join(re.escape(secret) for secret in longest_first))

    def text(self, value: str) -> str:
        """``value`` with every known secret and secret-shaped run masked."""
        if len(value) < MIN_KNOWN_LENGTH:
            return value
        known = self._known_pattern
        if known is not None:
            value = known.sub(MASK, value)
        if _ANY_SHAPE.search(value):
            for pattern, replacement in _PATTERNS:
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
        """Rewrite ``record`` in place; never drops it."""
        if isinstance(record.msg, str):
            record.msg = self.text(record.msg)
        if record.args:
            record.args = (
                tuple(self.scrub(arg) for arg in record.args) if isinstance(record.args, tuple) else record.args
            )
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD_ATTRIBUTES and isinstance(value, str | dict | list | tuple):
                setattr(record, key, self.scrub(value))
        return True


_STANDARD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}
