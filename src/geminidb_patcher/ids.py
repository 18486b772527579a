"""Patterns every identifier must match before it may reach a URL, a query string or a request body."""

from __future__ import annotations

import re

PROJECT_ID_PATTERN = r"^[0-9a-f]{32}$"
INSTANCE_ID_PATTERN = r"^[0-9A-Za-z][0-9A-Za-z_-]{0,63}$"
"""A caller's instance ID must be path-safe: Huawei documents no format (its own examples differ), so IDs read
from the API are never checked against any; this shape only keeps what a caller names out of URL syntax."""
REGION_PATTERN = r"^[a-z]{2}(-[a-z]+)+-[0-9]{1,3}$"

_PROJECT_ID = re.compile(PROJECT_ID_PATTERN)
_REGION = re.compile(REGION_PATTERN)


def _check(pattern: re.Pattern[str], value: str, what: str) -> str:
    if not pattern.fullmatch(value):
        raise ValueError(f"{what} does not match {pattern.pattern}")
    return value


def check_project_id(value: str) -> str:
    """Return ``value`` if it is a project ID (32 lower-case hex digits)."""
    return _check(_PROJECT_ID, value, "project_id")


def check_region(value: str) -> str:
    """Return ``value`` if it looks like a Huawei Cloud region ID such as ``ap-southeast-1``."""
    return _check(_REGION, value, "region")
