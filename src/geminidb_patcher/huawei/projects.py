"""IAM's KeystoneListAuthProjects: the projects the credentials can reach (``GET /v3/auth/projects``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from geminidb_patcher.huawei.auth import Authenticator
from geminidb_patcher.huawei.errors import ProtocolError
from geminidb_patcher.huawei.http import JsonHttp, require_object

MAX_PROJECTS = 10_000
"""More projects than any account holds: a longer answer is refused rather than walked."""


@dataclass(frozen=True)
class ProjectView:
    """One ``AuthProjectResult``: a region project (its name is the region ID, its parent the account) or a
    sub-project of one (its parent is the region project)."""

    id: str
    name: str
    parent_id: str
    enabled: bool
    is_domain: bool

    @classmethod
    def from_api(cls, item: Any) -> ProjectView | None:
        """Parse one item; ``None`` when it has no ID or name."""
        if not isinstance(item, dict) or not item.get("id") or not item.get("name"):
            return None
        return cls(
            id=str(item["id"]),
            name=str(item["name"]),
            parent_id=str(item.get("parent_id") or ""),
            enabled=item.get("enabled") is True,
            is_domain=item.get("is_domain") is True,
        )


def list_auth_projects(http: JsonHttp, iam_endpoint: str, auth: Authenticator) -> list[ProjectView]:
    """Every project IAM says the credentials can reach (no extra IAM policy is needed for this call)."""
    response = http.request("GET", f"{iam_endpoint.rstrip('/')}/v3/auth/projects", auth=auth)
    items = require_object(response, "projects")["projects"]
    if not isinstance(items, list) or len(items) > MAX_PROJECTS:
        raise ProtocolError("projects is not a list of at most 10,000 projects", status=response.status)
    return [project for project in map(ProjectView.from_api, items) if project is not None]
