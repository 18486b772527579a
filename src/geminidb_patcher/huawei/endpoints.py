"""Service endpoints per region, following the SDK's region tables."""

from __future__ import annotations

_EU_SOVEREIGN = frozenset({"eu-west-101"})


def _domain(region: str) -> str:
    return "myhuaweicloud.eu" if region in _EU_SOVEREIGN else "myhuaweicloud.com"


def geminidb_endpoint(region: str) -> str:
    """Base URL of the GeminiDB (GaussDB NoSQL) API in ``region``."""
    return f"https://gaussdb-nosql.{region}.{_domain(region)}"


def iam_endpoint(region: str) -> str:
    """Base URL of the regional IAM endpoint, where project-scoped tokens are issued."""
    return f"https://iam.{region}.{_domain(region)}"


def smn_endpoint(region: str) -> str:
    """Base URL of Simple Message Notification in ``region`` (cn-north-2 lives under ``.cn``)."""
    if region == "cn-north-2":
        return "https://smn.cn-north-2.myhuaweicloud.cn"
    return f"https://smn.{region}.{_domain(region)}"
