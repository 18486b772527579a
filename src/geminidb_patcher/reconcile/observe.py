"""Observe one target through the API: instances, running upgrade jobs, scheduled upgrades."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from geminidb_patcher.huawei.client import UPGRADE_JOB_NAME, UPGRADE_TASK_NAME
from geminidb_patcher.models import Target
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView

JOB_LOOKBACK = timedelta(days=30)
"""ListJobs looks back at most 30 days; a running patch job is never older than that."""


def _instance_id(job: dict[str, Any]) -> str | None:
    instance = job.get("instance")
    value = instance.get("id") if isinstance(instance, dict) else job.get("instance_id")
    return value if isinstance(value, str) else None


def running_upgrade_jobs(port: GeminiDBPort, now: datetime) -> dict[str, str]:
    """instance ID → job ID of every ``UpgradeDbVersion`` job still running."""
    jobs = port.list_jobs(name=UPGRADE_JOB_NAME, status="Running", start_time=now - JOB_LOOKBACK, end_time=now)
    return {instance_id: str(job.get("id", "")) for job in jobs if (instance_id := _instance_id(job)) is not None}


def observe(port: GeminiDBPort, target: Target, now: datetime) -> FleetSnapshot:
    """Read everything planning needs for ``target``."""
    instances = tuple(InstanceView.from_api(item) for item in port.list_instances())
    tasks = port.list_scheduled_tasks(job_name=UPGRADE_TASK_NAME, job_status="Pending")
    scheduled = {
        str(task["instance_id"]): str(task.get("job_id", ""))
        for task in tasks
        if isinstance(task.get("instance_id"), str)
    }
    return FleetSnapshot(
        target=target,
        observed_at=now,
        instances=instances,
        running_upgrades=running_upgrade_jobs(port, now),
        scheduled_upgrades=scheduled,
    )
