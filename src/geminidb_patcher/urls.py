"""Where the function may send requests: HTTPS anywhere, plain HTTP only to this machine (the simulator)."""

from __future__ import annotations

from urllib.parse import urlsplit

from geminidb_patcher.errors import ConfigError

LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def check_url(name: str, value: str) -> str:
    """HTTPS, or plain HTTP to a loopback address (the simulator); nothing else."""
    parts = urlsplit(value)
    if parts.scheme == "https" and parts.hostname:
        return value.rstrip("/")
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return value.rstrip("/")
    raise ConfigError(f"{name} must be an https:// URL (http:// only for loopback addresses)")
