"""What one observation of a target saw, parsed tolerantly into immutable values."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from sys import intern
from typing import Any, Literal

from geminidb_patcher.contract.request import SUPPORTED_ENGINES, Target

DrRole = Literal["primary", "standby", "unknown", ""]
PairKind = Literal["dr", "dual_active", ""]
UPGRADE_JOB_NAME = "UpgradeDbVersion"
"""ListJobs' documented name for a database version upgrade (assumed to cover batch patches: docs/fidelity.md)."""
UPGRADE_TASK_NAME = "UPGRADE_DATABASE"
"""ListNosqlTaskList's name for a patch upgrade scheduled into the maintenance window."""
DR_ROLES: Mapping[str, DrRole] = {"master": "primary", "slave": "standby"}
"""ShowInstanceRole's ``role`` values (SDK ``ShowInstanceRoleResponse``) and what they mean for patch order."""
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


def is_upgrade_job(name: str) -> bool:
    """Whether a ListJobs name is a version upgrade: ``UpgradeDbVersion``, any name that says "upgrade", or none
    (a job listed without a name is taken for an upgrade: the side that blocks rather than patches twice).

    No documented job name other than ``UpgradeDbVersion`` contains "upgrade", so the wider rule misreads
    nothing documented and still recognises a batch patch should Huawei name its jobs differently.
    """
    return not name or name == UPGRADE_JOB_NAME or "upgrade" in name.lower()


def _pair(item: dict[str, Any]) -> tuple[str, PairKind, DrRole]:
    """The peer, the kind of pair and the role known so far.

    A disaster-recovery pair (``dr_instance_id``) starts ``unknown``: ListInstances does not say which side is
    the standby, ShowInstanceRole does (``with_dr_role``). A dual-active pair (``dual_active_info``) has no
    standby: both sides serve, and the planner patches them one at a time.
    """
    peer = str(item.get("dr_instance_id") or "")
    if peer:
        return peer, "dr", "unknown"
    dual = str(_dict(item.get("dual_active_info")).get("destination_instance_id") or "")
    if dual:
        return dual, "dual_active", ""
    return "", "", ""


@dataclass(frozen=True, slots=True)
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
    pair: PairKind = ""
    dr_role_problem: str = ""
    """Why ``dr_role`` is ``unknown``, in words (the role query failed or gave an unknown answer)."""

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> InstanceView:
        """Parse one item; the docs' examples are sloppy about types, so coerce rather than reject.

        Values a fleet repeats (engine, status, version, window, mode) are interned: one string each, not one per
        instance (about 14 MB less at 50,000 instances).
        """
        datastore = _dict(item.get("datastore"))
        groups = _list(item.get("groups"))
        patch = datastore.get("patch_available")
        peer, pair, role = _pair(item)
        return cls(
            id=str(item.get("id", "")),
            name=str(item.get("name", "")),
            engine=intern(str(datastore.get("type", "")).lower()),
            status=intern(str(item.get("status", "")).lower()),
            patch_available=patch is True or (isinstance(patch, str) and patch.lower() == "true"),
            version=intern(str(datastore.get("whole_version") or datastore.get("version") or "")),
            actions=tuple(str(action) for action in _list(item.get("actions")) if action),
            maintenance_window=intern(str(item.get("maintenance_window") or "")),
            mode=intern(str(item.get("mode") or "")),
            node_count=sum(len(_list(_dict(group).get("nodes"))) for group in groups),
            abnormal_parts=_abnormal_parts(groups),
            dr_peer_id=peer,
            dr_role=role,
            pair=pair,
        )


def with_dr_role(view: InstanceView, answer: str | None, problem: str = "") -> InstanceView:
    """``view`` with its DR role from ShowInstanceRole's ``answer``; ``None`` or an unknown value stays unknown."""
    if view.pair != "dr":
        return view
    role = DR_ROLES.get((answer or "").lower())
    if role is not None:
        return dataclasses.replace(view, dr_role=role, dr_role_problem="")
    why = problem or f"the role API answered {answer!r}, which is neither 'master' nor 'slave'"
    return dataclasses.replace(view, dr_role="unknown", dr_role_problem=why)


def with_declared_role(view: InstanceView, declared: str | None, problem: str = "") -> InstanceView:
    """``view`` with the DR role an operator declared (``primary``/``standby``); ``None`` stays unknown."""
    if view.pair != "dr":
        return view
    if declared in ("primary", "standby"):
        role: DrRole = "primary" if declared == "primary" else "standby"
        return dataclasses.replace(view, dr_role=role, dr_role_problem="")
    return dataclasses.replace(view, dr_role="unknown", dr_role_problem=problem or "no role is declared")


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
    name: str = UPGRADE_JOB_NAME

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
            name=str(item.get("name") or ""),
        )


BACKUP_JOB_NAME = "BackupInstance"
"""The ListJobs name of a backup (CreateBack answers its ``job_id``)."""


@dataclass(frozen=True)
class BackupView:
    """One full backup from ListBackups v4 (``Backup``): whose, its state and when it began and ended."""

    id: str
    instance_id: str
    status: str
    """``BUILDING``, ``COMPLETED`` or ``FAILED``."""
    kind: str
    """``Auto`` or ``Manual``."""
    began_at: datetime | None
    ended_at: datetime | None

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> BackupView | None:
        """Parse one ``Backup``; ``None`` when it names no instance."""
        instance_id = item.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id:
            return None
        return cls(
            id=str(item.get("id") or ""),
            instance_id=instance_id,
            status=str(item.get("status") or "").upper(),
            kind=str(item.get("type") or ""),
            began_at=_job_time(item.get("begin_time")),
            ended_at=_job_time(item.get("end_time")),
        )


@dataclass(frozen=True)
class ScheduledTask:
    """One task of ListNosqlTaskList: which instance, and the task's ID."""

    instance_id: str
    task_id: str

    @classmethod
    def from_api(cls, item: dict[str, Any]) -> ScheduledTask | None:
        """Parse one schedule item; ``None`` when it names no instance."""
        instance_id = item.get("instance_id")
        if not isinstance(instance_id, str) or not instance_id:
            return None
        return cls(instance_id, str(item.get("job_id") or ""))


@dataclass(frozen=True)
class FleetSnapshot:
    """Instances, upgrade jobs, pending scheduled upgrades and tag matches of one target."""

    target: Target
    instances: tuple[InstanceView, ...]
    jobs: tuple[JobView, ...] = ()
    """Upgrade jobs: every running one, and the others started within the rollout's lookback."""
    scheduled_upgrades: Mapping[str, str] = field(default_factory=dict)
    """instance ID → ID of its pending ``UPGRADE_DATABASE`` task."""
    tagged: Mapping[TagFilter, frozenset[str]] = field(default_factory=dict)
    """For each tag filter a selector uses: the IDs of the instances that match it."""
    other_jobs: Mapping[str, str] = field(default_factory=dict)
    """instance ID → ``"<job id> (<name>)"`` of a running job that is not an upgrade (a backup, a resize, …)."""
    patchable_engines: frozenset[str] = SUPPORTED_ENGINES
    """The engines this target's site lets the batch API patch (and the function supports)."""
    backups: tuple[BackupView, ...] | None = None
    """Full backups that began within the request's ``backup.within`` (and a day before it); ``None``: not read."""
    site: str = "main site"
    """Where ``patchable_engines`` comes from, for the skip's sentence."""

    @functools.cached_property
    def running_upgrades(self) -> dict[str, str]:
        """instance ID → ID of its running upgrade job."""
        return {job.instance_id: job.id for job in self.jobs if job.status == "Running"}
