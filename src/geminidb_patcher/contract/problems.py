"""Validation errors in the words of the person who wrote the request: their field paths, plain sentences."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from geminidb_patcher.contract.request import TAG_KEY_PATTERN, TAG_VALUE_PATTERN
from geminidb_patcher.ids import INSTANCE_ID_PATTERN, PROJECT_ID_PATTERN, REGION_PATTERN

UNION_FIELDS: Mapping[str, str] = {
    "window": "must be 'instance', 'anytime', or an object with start, end (HH:MM), timezone and optional days",
    "max_in_flight": "must be a whole number from 0 to 100000, or a percentage from 0% to 100% such as '25%'",
    "max_errors": "must be a whole number from 0 to 100000, or a percentage from 0% to 100% such as '25%'",
    "notify": "must be true, false, or a list of configured channel names",
}
"""Fields that accept several shapes; pydantic names the shape it tried in the path, which a user never wrote."""
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


def _path(loc: tuple[Any, ...]) -> tuple[tuple[str, ...], bool]:
    """The path as written, and whether pydantic named a shape of a union field in it."""
    parts: list[str] = []
    shape = False
    skip_next = False
    for part in loc:
        if skip_next:
            skip_next, shape = False, True
            continue
        if part == "[key]":
            continue
        parts.append(str(part))
        if len(parts) == 1 and part in UNION_FIELDS:
            skip_next = True
    return tuple(parts), shape


def describe_problems(
    errors: Iterable[Mapping[str, Any]], *, skip_loc: int = 0, whole: str = "body"
) -> list[dict[str, str]]:
    """Validation errors as ``{field, rule, message}``, without the offending input (it may hold secrets).

    A field that takes several shapes gets one sentence listing them, unless the value had the right shape and
    something inside it is wrong (``window.timezone``): then only those problems are reported.
    """
    described: list[tuple[tuple[str, ...], bool, dict[str, str]]] = []
    for error in errors:
        path, shape = _path(tuple(error.get("loc", ()))[skip_loc:])
        problem = {"field": ".".join(path) or whole, "rule": str(error.get("type", "invalid")), "message": ""}
        problem["message"] = _message(error)
        described.append((path, shape, problem))
    # per union field, the most specific problems: inside the shape that fit, else our own checks, else one sentence
    specific: dict[str, int] = {}
    for path, shape, problem in described:
        if shape:
            rank = 2 if len(path) > 1 else 1 if problem["rule"] == "value_error" else 0
            specific[path[0]] = max(specific.get(path[0], 0), rank)
    problems: list[dict[str, str]] = []
    collapsed: set[str] = set()
    for path, shape, problem in described:
        if shape:
            rank = 2 if len(path) > 1 else 1 if problem["rule"] == "value_error" else 0
            if rank < specific[path[0]] or path[0] in collapsed:
                continue
            if rank == 0:
                collapsed.add(path[0])
                problems.append({"field": path[0], "rule": "invalid", "message": UNION_FIELDS[path[0]]})
                continue
        problems.append(problem)
    return problems
