"""What one observation of a target saw, parsed tolerantly into immutable values."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from geminidb_patcher.models import Target

DrRole = Literal["primary", "standby", "unknown", ""]
_PRIMARY_ROLES = frozenset({"master", "primary", "active"})
_STANDBY_ROLES = frozenset({"slave", "standby", "secondary", "backup", "disaster"})
TagFilter = tuple[tuple[str, tuple[str, ...]], ...]
"""A selector's tags in a canonical, hashable form: sorted keys, sorted values."""


def tag_filter(tags: Mapping[str, list[str]]) -> TagFilter:
    """The canonical form of a selector's ``tags``."""
    return tuple(sorted((key, tuple(sorted(set(values)))) for key, values in tags.items()))


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _abnormal_parts(groups: list[Any]) -> tuple[str, ...]:
    """``group <id>: <status>`` / ``node <name>: <status>`` for every part not ``normal``."""
    found = []
    for raw_group in groups:
        group = _dict(raw_group)
        status = str(group.get("status") or "normal").lower()
        if status != "normal":
            found.append(f"group {group.get('id', '?')}: {status}")
        for raw_node in _list(group.get("nodes")):
            node = _dict(raw_node)
            node_status = str(node.get("status") or "normal").lower()
            if node_status != "normal":
                found.append(f"node {node.get('name') or node.get('id', '?')}: {node_status}")
    return tuple(found)


def _dr(item: dict[str, Any]) -> tuple[str, DrRole]:
    """The DR or dual-active peer and this instance's role in the pair (``""`` outside a pair)."""
    dual = _dict(item.get("dual_active_info"))
    peer = str(item.get("dr_instance_id") or dual.get("destination_instance_id") or "")
    if not peer:
        return "", ""
    role = str(dual.get("role") or "").lower()
    if role in _PRIMARY_ROLES:
        return peer, "primary"
    if role in _STANDBY_ROLES:
        return peer, "standby"
    return peer, "unknown"


@dataclass(frozen=True)
class InstanceView:
    """The fields of a ListInstances item that planning needs."""

    id: str
    name: str
    engine: str
    status: str
    patch_available: bool
    version: str
    actions: tuple[str, ...]
    maintenance_window: str
    mode: str = ""
    node_count: int = 0
    abnormal_parts: tuple[str, ...] = ()
    dr_peer_id: str = ""
    dr_role: DrRole = ""

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> InstanceView:
        """Parse one item; the docs' examples are sloppy about types, so coerce rather than reject."""
        datastore = _dict(item.get("datastore"))
        groups = _list(item.get("groups"))
        patch = datastore.get("patch_available")
        peer, role = _dr(item)
        return cls(
            id=str(item.get("id", "")),
            name=str(item.get("name", "")),
            engine=str(datastore.get("type", "")).lower(),
            status=str(item.get("status", "")).lower(),
            patch_available=patch is True or (isinstance(patch, str) and patch.lower() == "true"),
            version=str(datastore.get("whole_version") or datastore.get("version") or ""),
            actions=tuple(str(action) for action in _list(item.get("actions")) if action),
            maintenance_window=str(item.get("maintenance_window") or ""),
            mode=str(item.get("mode") or ""),
            node_count=sum(len(_list(_dict(group).get("nodes"))) for group in groups),
            abnormal_parts=_abnormal_parts(groups),
            dr_peer_id=peer,
            dr_role=role,
        )


def _job_time(value: Any) -> datetime | None:
    """``yyyy-mm-ddThh:mm:ss+0800`` (Huawei's job format) or ISO 8601; ``None`` when empty or unreadable."""
    if not isinstance(value, str) or not value:
        return None
    for parse in (lambda v: datetime.strptime(v, "%Y-%m-%dT%H:%M:%S%z"), datetime.fromisoformat):
        try:
            parsed = parse(value.replace("Z", "+00:00"))
        except ValueError:
            continue
        return parsed if parsed.tzinfo else None
    return None


@dataclass(frozen=True)
class JobView:
    """One ``UpgradeDbVersion`` job from ListJobs."""

    id: str
    instance_id: str
    instance_name: str
    status: str
    started_at: datetime | None
    ended_at: datetime | None
    progress: str
    fail_reason: str

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> JobView | None:
        """Parse one JobDetail; ``None`` when it names no instance."""
        instance = _dict(item.get("instance"))
        instance_id = instance.get("id", item.get("instance_id"))
        if not isinstance(instance_id, str) or not instance_id:
            return None
        return cls(
            id=str(item.get("id", "")),
            instance_id=instance_id,
            instance_name=str(instance.get("name") or ""),
            status=str(item.get("status", "")),
            started_at=_job_time(item.get("start_time")),
            ended_at=_job_time(item.get("end_time")),
            progress=str(item.get("progress") or ""),
            fail_reason=str(item.get("fail_reason") or ""),
        )


@dataclass(frozen=True)
class FleetSnapshot:
    """Instances, upgrade jobs, pending scheduled upgrades and tag matches of one target."""

    target: Target
    observed_at: datetime
    instances: tuple[InstanceView, ...]
    jobs: tuple[JobView, ...] = ()
    """Upgrade jobs: every running one, and the others started within the rollout's lookback."""
    scheduled_upgrades: Mapping[str, str] = field(default_factory=dict)
    """instance ID → ID of its pending ``UPGRADE_DATABASE`` task."""
    tagged: Mapping[TagFilter, frozenset[str]] = field(default_factory=dict)
    """For each tag filter a selector uses: the IDs of the instances that match it."""

    @functools.cached_property
    def running_upgrades(self) -> dict[str, str]:
        """instance ID → ID of its running upgrade job."""
        return {job.instance_id: job.id for job in self.jobs if job.status == "Running"}
