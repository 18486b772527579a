"""Where the function may send requests: HTTPS anywhere, plain HTTP only to this machine (the simulator)."""

from __future__ import annotations

from urllib.parse import urlsplit

from geminidb_patcher.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_url(name: str, value: str) -> str:
    """HTTPS, or plain HTTP to a loopback address (the simulator); nothing else. The error names the variable, never
    the value (a URL may carry a key)."""
    parts = urlsplit(value)
    try:
        parts.port  # noqa: B018 - parsing the port is the check: above 65535 or not a number raises
    except ValueError:
        raise ConfigError(f"{name} has a port that is not a number from 0 to 65535") from None
    if parts.username is not None or parts.password is not None:
        raise ConfigError(f"{name} must not carry a user or password (put credentials in the secret)")
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value.rstrip("/")
    raise ConfigError(f"{name} must be an https:// URL (http:// only for loopback addresses)")
