"""The GeminiDB port: what reconciliation needs of one project, in its own terms. The Huawei client implements
it, fakes may too. Every method returns parsed values and raises only ``UpstreamError`` (whose
``may_have_arrived`` says whether a write could have taken effect)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.snapshot import (
    UPGRADE_JOB_NAME,
    UPGRADE_TASK_NAME,
    BackupView,
    InstanceView,
    JobView,
    ScheduledTask,
)

__all__ = [
    "MAX_BATCH_SIZE",
    "STATE_REFUSAL_CODES",
    "UPGRADE_JOB_NAME",
    "UPGRADE_TASK_NAME",
    "BackupStarted",
    "GeminiDBPort",
    "UpgradeResult",
    "UpstreamError",
]

MAX_BATCH_SIZE = 10
"""BatchUpgradeDatabaseVersion takes at most ten instance IDs, all of one engine."""

STATE_REFUSAL_CODES = frozenset({"DBS.200011", "DBS.200018", "DBS.200019", "DBS.201015", "DBS.280005"})
"""Refusals about an instance's state at that moment (status, node status, another operation, busy): "not now",
never a missing permission (GeminiDB error-code page, 403)."""


@dataclass(frozen=True)
class UpgradeResult:
    """One item of the batch call's ``upgrade_results``: a job, or a per-item error; ``raw`` as received."""

    instance_id: str
    job_id: str | None
    error_code: str | None
    error_message: str | None
    raw: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class BackupStarted:
    """CreateBack's answer: the ``BackupInstance`` job and the backup it makes."""

    job_id: str
    backup_id: str


class GeminiDBPort(Protocol):
    """Reads and the one write of one project."""

    def list_instance_views(self) -> list[InstanceView]:
        """Every instance, as planning sees it."""
        ...

    def list_jobs(
        self,
        *,
        name: str | None = None,
        status: str | None = None,
        start_time: datetime | None = None,
        end_time: datetime | None = None,
    ) -> list[JobView]:
        """Jobs matching the filters (those naming no instance are left out)."""
        ...

    def list_scheduled_tasks(
        self,
        *,
        job_name: str = ...,
        job_status: str | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
    ) -> list[ScheduledTask]:
        """Tasks scheduled into maintenance windows, created within the given span."""
        ...

    def show_instance_role(self, instance_id: str) -> str:
        """The instance's role in its disaster-recovery pair, as the API names it (``master`` or ``slave``)."""
        ...

    def list_instance_ids_by_tags(self, tags: Mapping[str, Sequence[str]]) -> list[str]:
        """IDs of the instances carrying every tag key with one of its values."""
        ...

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        """Patch up to ten instances of one engine now; never repeated once it may have arrived."""
        ...

    def list_backups(self, *, began_since: datetime, began_until: datetime) -> list[BackupView]:
        """Full instance backups that began within the span."""
        ...

    def create_backup(self, instance_id: str, name: str, description: str) -> BackupStarted:
        """Start a manual full backup; never repeated once it may have arrived."""
        ...
