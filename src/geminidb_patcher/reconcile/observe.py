"""Observe one target through the API: instances, upgrade jobs, scheduled upgrades and tag matches."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from geminidb_patcher.huawei.client import UPGRADE_JOB_NAME, UPGRADE_TASK_NAME
from geminidb_patcher.models import MAX_JOB_HISTORY, RunRequest, Selector, Target
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, JobView, TagFilter, tag_filter


def tag_filters(request: RunRequest) -> list[TagFilter]:
    """The distinct tag filters the request's selector and waves use."""
    selectors: list[Selector] = [request.selector] if request.selector else []
    selectors += [wave.selector for wave in request.waves or []]
    return list(dict.fromkeys(tag_filter(s.tags) for s in selectors if s.tags))


JOB_CLOCK_MARGIN = timedelta(minutes=1)
"""ListJobs times have whole seconds: a window ending exactly now would miss a job started this second."""


def upgrade_jobs(port: GeminiDBPort, now: datetime, history: timedelta) -> tuple[JobView, ...]:
    """Every running upgrade job (30 days back), and every upgrade job started within ``history``."""
    end = now + JOB_CLOCK_MARGIN
    oldest = end - MAX_JOB_HISTORY  # the API refuses windows longer than 30 days
    running = port.list_jobs(name=UPGRADE_JOB_NAME, status="Running", start_time=oldest, end_time=end)
    recent = (
        port.list_jobs(name=UPGRADE_JOB_NAME, start_time=max(now - history, oldest), end_time=end) if history else []
    )
    by_id: dict[str, JobView] = {}
    for item in [*recent, *running]:  # the running listing is the fresher word on a job's status
        job = JobView.from_api(item)
        if job is not None:
            by_id[job.id or f"{job.instance_id}@{job.started_at}"] = job
    return tuple(by_id.values())


def observe(
    port: GeminiDBPort, target: Target, now: datetime, request: RunRequest, concurrency: int = 1
) -> FleetSnapshot:
    """Read everything planning needs for ``target``; the independent reads overlap when ``concurrency`` > 1."""
    history = max(request.lookback, request.rollout_lookback)
    filters = tag_filters(request)
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, 3 + len(filters))), thread_name_prefix="observe"
    ) as pool:
        instances_read = pool.submit(port.list_instance_views)
        tasks_read = pool.submit(port.list_scheduled_tasks, job_name=UPGRADE_TASK_NAME, job_status="Pending")
        jobs_read = pool.submit(upgrade_jobs, port, now, history)
        tag_reads = {key: pool.submit(port.list_instance_ids_by_tags, {k: list(v) for k, v in key}) for key in filters}
        instances = tuple(instances_read.result())
        scheduled = {
            str(task["instance_id"]): str(task.get("job_id", ""))
            for task in tasks_read.result()
            if isinstance(task.get("instance_id"), str)
        }
        jobs = jobs_read.result()
        tagged = {key: frozenset(read.result()) for key, read in tag_reads.items()}
    return FleetSnapshot(
        target=target, observed_at=now, instances=instances, jobs=jobs, scheduled_upgrades=scheduled, tagged=tagged
    )
