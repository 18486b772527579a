"""The GeminiDB operations reconciliation needs; the Huawei client implements them, fakes may too."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from geminidb_patcher.huawei.client import UpgradeResult
from geminidb_patcher.reconcile.snapshot import InstanceView


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
    ) -> list[dict[str, Any]]:
        """Jobs matching the filters."""
        ...

    def list_scheduled_tasks(
        self,
        *,
        job_name: str = ...,
        job_status: str | None = None,
        created_since: datetime | None = None,
        created_until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Tasks scheduled into maintenance windows, created within the given span."""
        ...

    def show_instance_role(self, instance_id: str) -> str:
        """The instance's role in its disaster-recovery pair, as the API names it (``master`` or ``slave``)."""
        ...

    def list_instance_ids_by_tags(self, tags: Mapping[str, Sequence[str]]) -> list[str]:
        """IDs of the instances carrying every tag key with one of its values."""
        ...

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        """Patch up to ten instances of one engine now."""
        ...
