"""Service endpoints per region, following the SDK's region tables, and what each site's batch patch API accepts."""

from __future__ import annotations

from collections.abc import Mapping

_EU_SOVEREIGN = frozenset({"eu-west-101"})
IAM_GLOBAL_ENDPOINT = "https://iam.myhuaweicloud.com"
_IAM_REGIONS = frozenset(
    {
        "af-south-1", "ae-ad-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4",
        "cn-east-2", "cn-east-3", "cn-east-4", "cn-east-5", "cn-north-1", "cn-north-2", "cn-north-4",
        "cn-north-9", "cn-north-12", "cn-south-1", "cn-south-2", "cn-southwest-2", "eu-west-0", "eu-west-101",
        "la-north-2", "la-south-2", "me-east-1", "my-kualalumpur-1", "na-mexico-1", "ru-moscow-1",
        "sa-brazil-1", "tr-west-1",
    }
)  # fmt: skip
"""Regions with a regional IAM host in the IAM SDK's table (``IamRegion``); the others use the global one."""


def _domain(region: str) -> str:
    return "myhuaweicloud.eu" if region in _EU_SOVEREIGN else "myhuaweicloud.com"


GEMINIDB_REGIONS = frozenset(
    {
        "af-south-1", "ap-southeast-1", "ap-southeast-2", "ap-southeast-3", "ap-southeast-4", "ap-southeast-5",
        "cn-east-2", "cn-east-3", "cn-east-4", "cn-north-1", "cn-north-11", "cn-north-2", "cn-north-4", "cn-north-9",
        "cn-south-1", "cn-south-2", "cn-south-4", "cn-southwest-2", "cn-southwest-3", "eu-west-101", "la-north-2",
        "la-south-2", "me-east-1", "ru-moscow-1", "ru-northwest-2", "sa-brazil-1", "tr-west-1",
    }
)  # fmt: skip
"""Regions with a GeminiDB (GaussDB NoSQL) endpoint: the official SDK's region table (3.1.219)."""


def geminidb_endpoint(region: str) -> str:
    """Base URL of the GeminiDB (GaussDB NoSQL) API in ``region``."""
    return f"https://gaussdb-nosql.{region}.{_domain(region)}"


def iam_endpoint(region: str) -> str:
    """Base URL of IAM for ``region``: its regional host where the SDK lists one, else the global endpoint."""
    return f"https://iam.{region}.{_domain(region)}" if region in _IAM_REGIONS else IAM_GLOBAL_ENDPOINT


def smn_endpoint(region: str) -> str:
    """Base URL of Simple Message Notification in ``region`` (cn-north-2 lives under ``.cn``)."""
    if region == "cn-north-2":
        return "https://smn.cn-north-2.myhuaweicloud.cn"
    return f"https://smn.{region}.{_domain(region)}"


PATCHABLE_ENGINES_BY_SITE: Mapping[str, frozenset[str]] = {
    "main site": frozenset({"cassandra", "influxdb", "redis"}),
    "EU site": frozenset({"cassandra"}),
}
"""Engines each site's batch patch API lists (docs/fidelity.md cites the pages): the main site's
BatchUpgradeDbVersion page names Cassandra, Influx and Redis; the EU site documents patching for Cassandra only.
Partner ("ally") regions list Cassandra, Influx and DynamoDB-compatible: their region IDs are not published,
so they are configured (``GEMINIDB_PATCH_ENGINES``)."""


def patch_site(region: str) -> str:
    """The documentation site whose API pages describe ``region``."""
    return "EU site" if region in _EU_SOVEREIGN else "main site"


def patchable_engines(region: str, overrides: Mapping[str, frozenset[str]]) -> tuple[str, frozenset[str]]:
    """Where the rule for ``region`` comes from, and the engines its batch patch API accepts."""
    if region in overrides:
        return "configured for " + region, overrides[region]
    site = patch_site(region)
    return site, PATCHABLE_ENGINES_BY_SITE[site]


ROLE_API_ENGINES = frozenset({"redis"})
"""Engines ShowInstanceRole is documented for ("该接口支持GeminiDB Redis数据库实例", QueryInstanceRole page)."""
