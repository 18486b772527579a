"""The IAM action each call needs, from each API page's "Authorization Information" (docs/fidelity.md)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class CallPermission:
    """One API call and the action(s) that allow it in each of Huawei's two policy models."""

    api: str
    identity_action: str | None
    """Identity policies (``"Version": "5.0"``); ``None`` where the page documents none."""
    role_actions: tuple[str, ...]
    """Role/policy-based policies (``"Version": "1.1"``, the "Alias" column)."""


CALL_PERMISSIONS: Mapping[tuple[str, str], CallPermission] = {
    ("GET", "/instances"): CallPermission("ListInstances", "gaussdbfornosql:instance:list", ("nosql:instance:list",)),
    ("POST", "/instances/db-upgrade"): CallPermission(
        "BatchUpgradeDatabaseVersion",
        "gaussdbfornosql:instance:batchUpgradeDatabaseVersion",
        ("nosql:instance:batchUpgradeDatabaseVersion",),
    ),
    ("GET", "/jobs"): CallPermission("ListJobs", "gaussdbfornosql:task:list", ("nosql:task:list",)),
    ("GET", "/scheduled-jobs"): CallPermission("ListNosqlTaskList", "gaussdbfornosql:task:list", ("nosql:task:list",)),
    ("POST", "/instances/resource-instances/action"): CallPermission(
        "ListInstancesByTags", "gaussdbfornosql::listResourcesByTags", ("nosql:instance:list", "nosql:tag:list")
    ),
    ("GET", "/instances/{instance_id}/instance-role"): CallPermission("ShowInstanceRole", None, ()),
    ("GET", "/v4/backups"): CallPermission("ListBackups", "gaussdbfornosql:backup:list", ("nosql:backup:list",)),
    ("POST", "/instances/{instance_id}/backups"): CallPermission(
        "CreateBack", "gaussdbfornosql:instance:createBackup", ("nosql:backup:create",)
    ),
}
"""Every GeminiDB call the function makes (``GeminiDBClient``), keyed by method and path under ``/v3/{project}``
(``/v4/…`` for the one v4 API, ListBackups)."""
BACKUP_CALLS = frozenset({("GET", "/v4/backups"), ("POST", "/instances/{instance_id}/backups")})
"""Made only for requests with ``backup`` (CreateBack only with ``backup.create``)."""

SMN_PUBLISH = CallPermission("PublishMessage", "smn:topic:publish", ("smn:topic:publish",))
_INSTANCE_PATH = re.compile(r"^/instances/[^/]+/(instance-role|backups)$")


def permission_for(method: str, path: str) -> CallPermission | None:
    """The permission a call of the client needs; ``path`` as the client builds it, without its query."""
    found = _INSTANCE_PATH.match(path)
    template = f"/instances/{{instance_id}}/{found.group(1)}" if found else path
    return CALL_PERMISSIONS.get((method, template))


def grant_advice(method: str, path: str) -> str:
    """What to grant for a call Huawei refused with a 403 that is not about the instance's state."""
    needed = permission_for(method, path)
    if needed is None:
        return f"{method} {path} was refused (403): check the IAM policy of the function's credentials"
    if needed.identity_action is None:
        return (
            f"{needed.api} was refused (403); its API page documents no IAM action: check the GeminiDB read "
            "permissions of the function's credentials"
        )
    return (
        f"{needed.api} was refused (403): grant {needed.identity_action} (identity policy) or "
        f"{' + '.join(needed.role_actions)} (role/policy-based policy)"
    )
