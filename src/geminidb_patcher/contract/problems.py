"""Validation errors in the words of the person who wrote the request: their field paths, plain sentences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from geminidb_patcher.contract.request import TAG_KEY_PATTERN, TAG_VALUE_PATTERN, UNION_TAGS
from geminidb_patcher.ids import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN, REGION_PATTERN

_PATTERNS: Mapping[str, str] = {
    INSTANCE_ID_PATTERN: (
        "must be an instance ID: 1 to 64 letters, digits, '-' or '_', starting with a letter or digit"
    ),
    PROJECT_ID_PATTERN: "must be a project ID: 32 lower-case hex digits",
    REGION_PATTERN: "must be a region ID such as 'ap-southeast-1'",
    r"^p-[0-9a-f]{16}$": "must be a plan_id as a plan reported it, such as 'p-3f0c2a9be1d47a65'",
    TAG_KEY_PATTERN: "must be a tag key: 1 to 128 letters, digits or _ . : = + @ / -",
    TAG_VALUE_PATTERN: "must be a tag value: up to 255 letters, digits, spaces or _ . : = + @ / -",
}
_PREFIXES = ("Value error, ", "Assertion failed, ")


def _message(error: Mapping[str, Any]) -> str:
    message = str(error.get("msg", ""))
    for prefix in _PREFIXES:
        message = message.removeprefix(prefix)
    pattern = str((error.get("ctx") or {}).get("pattern"))
    if error.get("type") == "string_pattern_mismatch" and pattern in _PATTERNS:
        return _PATTERNS[pattern]
    if error.get("type") == "extra_forbidden":
        return "is not a known field"
    return message


def _path(loc: tuple[Any, ...]) -> tuple[str, ...]:
    """The path as written: without the shape pydantic names inside a field written in several shapes."""
    return tuple(str(part) for part in loc if part != "[key]" and part not in UNION_TAGS)


def describe_problems(
    errors: Iterable[Mapping[str, Any]], *, skip_loc: int = 0, whole: str = "body"
) -> list[dict[str, str]]:
    """Validation errors as ``{field, rule, message}``, without the offending input (it may hold secrets).

    The sentences come from the models' own types (a window, a limit, a notify value refuse a wrong shape with one
    sentence); here only the path is put in the user's words and pattern mismatches get a plain sentence.
    """
    problems = []
    for error in errors:
        path = _path(tuple(error.get("loc", ()))[skip_loc:])
        rule = str(error.get("type", "invalid"))
        problems.append({"field": ".".join(path) or whole, "rule": rule, "message": _message(error)})
    return problems
