"""Observe one target through the API: instances, upgrade jobs, scheduled upgrades and tag matches."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from geminidb_patcher.contract.request import MAX_JOB_HISTORY, SUPPORTED_ENGINES, RunRequest, Selector, Target
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.backups import LISTING_MARGIN
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.reconcile.snapshot import (
    UPGRADE_JOB_NAME,
    UPGRADE_TASK_NAME,
    FleetSnapshot,
    InstanceView,
    JobView,
    TagFilter,
    is_upgrade_job,
    tag_filter,
    with_declared_role,
    with_dr_role,
)

DEFAULT_DR_ROLE_TAG = "patch-dr-role"
DECLARED_ROLES = ("primary", "standby")


def _every_site_the_same(region: str) -> tuple[str, frozenset[str]]:
    return "main site", SUPPORTED_ENGINES


@dataclass(frozen=True)
class SiteRules:
    """What differs by Huawei site or deployment: which engines can be patched, where DR roles come from."""

    dr_role_tag: str = DEFAULT_DR_ROLE_TAG
    """The instance tag an operator sets to ``primary`` or ``standby`` where the role API is not documented."""
    role_api_engines: frozenset[str] = field(default_factory=lambda: frozenset({"redis"}))
    """Engines whose DR role ShowInstanceRole is documented to answer (``huawei.endpoints.ROLE_API_ENGINES``)."""
    site_engines: Callable[[str], tuple[str, frozenset[str]]] = _every_site_the_same
    """region → (the site or setting the rule comes from, the engines its batch patch API accepts)."""


def tag_filters(request: RunRequest) -> list[TagFilter]:
    """The distinct tag filters the request's selector and waves use."""
    selectors: list[Selector] = [request.selector] if request.selector else []
    selectors += [wave.selector for wave in request.waves or []]
    return list(dict.fromkeys(tag_filter(s.tags) for s in selectors if s.tags))


QUERY_SPAN = MAX_JOB_HISTORY - timedelta(days=1)
"""The longest span a time-filtered read asks for: 29 days ending now, inside ListJobs' documented "span at most
30 days", and never ending in the future, which a strict server might refuse."""


def api_now(moment: datetime) -> datetime:
    """``moment`` to the APIs' precision (whole seconds), rounded up: a job started earlier in the same second
    is still inside a window that ends "now", and the end is never more than a second after ``moment``."""
    whole = moment.replace(microsecond=0)
    return whole if whole == moment else whole + timedelta(seconds=1)


SCHEDULED_TASK_HISTORY = QUERY_SPAN
"""How far back (by creation time) pending scheduled upgrades are listed; the API's own default is only 7 days."""


def observed_jobs(port: GeminiDBPort, now: datetime, history: timedelta) -> tuple[tuple[JobView, ...], dict[str, str]]:
    """Upgrade jobs (every running one, those started within ``history``), and other running jobs by instance.

    Running jobs are listed under every name, so a patch is seen even if Huawei does not call it
    ``UpgradeDbVersion``, and so are backups or resizes that must not overlap a patch. Failed jobs are listed
    under every name too, so a failed patch counts against the error budget whatever its name.
    """
    end = api_now(now)
    oldest = end - QUERY_SPAN
    running = port.list_jobs(status="Running", start_time=oldest, end_time=end)
    since = max(now - history, oldest)
    recent = port.list_jobs(name=UPGRADE_JOB_NAME, start_time=since, end_time=end) if history else []
    failed = port.list_jobs(status="Failed", start_time=since, end_time=end) if history else []
    by_id: dict[str, JobView] = {}
    others: dict[str, str] = {}
    for job in [*failed, *recent, *running]:  # the running listing is the fresher word on a job's status
        if is_upgrade_job(job.name):
            by_id[job.id or f"{job.instance_id}@{job.started_at}"] = job
        elif job.status == "Running":
            others[job.instance_id] = f"{job.id} ({job.name})"
    return tuple(by_id.values()), others


def declared_roles(port: GeminiDBPort, tag: str) -> dict[str, str]:
    """instance ID → the role its ``tag`` declares (``primary``/``standby``; ``conflict`` when tagged both)."""
    roles: dict[str, str] = {}
    for role in DECLARED_ROLES:
        for instance_id in port.list_instance_ids_by_tags({tag: [role]}):
            roles[instance_id] = "conflict" if roles.get(instance_id, role) != role else role
    return roles


def _how_to_declare(view: InstanceView, tag: str) -> str:
    return (
        f"Huawei documents the role API (ShowInstanceRole) for GeminiDB Redis only, so the role of this "
        f"{view.engine} pair member must be declared: tag the standby {tag}=standby and the primary {tag}=primary"
    )


def with_declared_roles(port: GeminiDBPort, views: Sequence[InstanceView], tag: str) -> list[InstanceView]:
    """DR members with the role an operator declared in ``tag``; a side without one takes the opposite of its
    peer's declaration; without any, or with both sides the same, the role stays unknown and says how to declare."""
    try:
        declared = declared_roles(port, tag)
    except UpstreamError as error:
        return [with_declared_role(view, None, f"the tag query for {tag} failed ({error})") for view in views]
    resolved = []
    for view in views:
        own, peer = declared.get(view.id), declared.get(view.dr_peer_id)
        if own is None and peer in DECLARED_ROLES:
            own = DECLARED_ROLES[1 - DECLARED_ROLES.index(peer)]
        if own == "conflict" or (own is not None and own == peer):
            problem = f"both {tag} values, or the same value on both sides of the pair, are declared"
            resolved.append(with_declared_role(view, None, problem))
        else:
            resolved.append(with_declared_role(view, own, "" if own else _how_to_declare(view, tag)))
    return resolved


def with_dr_roles(
    port: GeminiDBPort, views: Sequence[InstanceView], concurrency: int, rules: SiteRules | None = None
) -> list[InstanceView]:
    """``views`` with the DR role of every disaster-recovery pair member.

    For engines Huawei documents ShowInstanceRole for (Redis), one query per pair member, at most ``concurrency``
    at once; for the others, the role an operator declared in an instance tag. A failed query or no declaration
    leaves the role ``unknown`` with the reason, so the pair waits rather than being patched in a guessed order.
    """
    rules = rules or SiteRules()
    members = [view for view in views if view.pair == "dr"]
    if not members:
        return list(views)
    tagged = [view for view in members if view.engine not in rules.role_api_engines]
    members = [view for view in members if view.engine in rules.role_api_engines]
    resolved = {view.id: view for view in with_declared_roles(port, tagged, rules.dr_role_tag)} if tagged else {}
    if not members:
        return [resolved.get(view.id, view) for view in views]

    def read(view: InstanceView) -> InstanceView:
        try:
            return with_dr_role(view, port.show_instance_role(view.id))
        except UpstreamError as error:
            return with_dr_role(view, None, f"the role query failed ({error})")

    with ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(members))), thread_name_prefix="role") as pool:
        resolved |= {view.id: view for view in pool.map(read, members)}
    return [resolved.get(view.id, view) for view in views]


def observe(
    port: GeminiDBPort,
    target: Target,
    now: datetime,
    request: RunRequest,
    concurrency: int = 1,
    rules: SiteRules | None = None,
) -> FleetSnapshot:
    """Read everything planning needs for ``target``; the independent reads overlap when ``concurrency`` > 1."""
    rules = rules or SiteRules()
    until = api_now(now)
    history = max(request.lookback, request.rollout_lookback)
    filters = tag_filters(request)
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, 4 + len(filters))), thread_name_prefix="observe"
    ) as pool:
        instances_read = pool.submit(port.list_instance_views)
        tasks_read = pool.submit(
            port.list_scheduled_tasks,
            job_name=UPGRADE_TASK_NAME,
            job_status="Pending",
            created_since=until - SCHEDULED_TASK_HISTORY,
            created_until=until,
        )
        jobs_read = pool.submit(observed_jobs, port, now, history)
        tag_reads = {key: pool.submit(port.list_instance_ids_by_tags, {k: list(v) for k, v in key}) for key in filters}
        backups_read = (
            pool.submit(
                port.list_backups,
                began_since=until - request.backup.within - LISTING_MARGIN,
                began_until=until,
            )
            if request.backup
            else None
        )
        instances = tuple(with_dr_roles(port, instances_read.result(), concurrency, rules))
        scheduled = {task.instance_id: task.task_id for task in tasks_read.result()}
        jobs, other_jobs = jobs_read.result()
        tagged = {key: frozenset(read.result()) for key, read in tag_reads.items()}
        backups = tuple(backups_read.result()) if backups_read else None
    site, engines = rules.site_engines(target.region)
    return FleetSnapshot(
        target=target,
        patchable_engines=engines & SUPPORTED_ENGINES,
        site=site,
        instances=instances,
        jobs=jobs,
        scheduled_upgrades=scheduled,
        tagged=tagged,
        other_jobs=other_jobs,
        backups=backups,
    )
