"""The pure planner: which instances may be patched now, why the others may not, and the batches."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import groupby
from typing import Literal, NamedTuple

from geminidb_patcher.contract.reasons import REASONS, Reason
from geminidb_patcher.contract.report import JobRecord, Rollout, WaveStatus
from geminidb_patcher.contract.request import Blackout, RunRequest, Target, Trigger
from geminidb_patcher.reconcile.backups import BackupOrder, backup_check, backup_states
from geminidb_patcher.reconcile.budget import resolve_limit
from geminidb_patcher.reconcile.durations import Durations, learn
from geminidb_patcher.reconcile.eligibility import (
    PeerState,
    WindowChoice,
    dr_check,
    failure_check,
    latest_jobs,
    pre_check,
    selects,
    timing_check,
)
from geminidb_patcher.reconcile.ports import MAX_BATCH_SIZE
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView, JobView
from geminidb_patcher.reconcile.waves import wave_of, wave_statuses
from geminidb_patcher.reconcile.windows import (
    WindowVerdict,
    explicit_window,
    merged_blackouts,
)


@dataclass(frozen=True)
class Policy:
    """The request's timing rules, with the trigger's default window and the configured blackouts."""

    window: WindowChoice
    blackouts: list[tuple[datetime, datetime, str]] = field(default_factory=list)

    @classmethod
    def resolve(cls, request: RunRequest, trigger: Trigger, configured: Sequence[Blackout] = ()) -> Policy:
        """Schedules default to each instance's own window; a person asking by webhook or directly, to now."""
        spec = request.window or ("instance" if trigger == "schedule" else "anytime")
        window: WindowChoice = spec if isinstance(spec, str) else explicit_window(spec)
        return cls(window, merged_blackouts([*configured, *request.blackouts]))


class Hold(NamedTuple):
    """An instance in scope that is not submitted in this run, and why (a tuple: a plan makes one per instance)."""

    target: Target | None
    """``None`` for an ID no target has, when the run looked in several."""
    instance_id: str
    instance: InstanceView | None
    reason: Reason
    detail: str
    wave: str | None = None
    next_opening: datetime | None = None

    @property
    def outcome(self) -> Literal["skipped", "deferred"]:
        """``skipped`` or ``deferred``, as the reasons table says."""
        return REASONS[self.reason].outcome


@dataclass(frozen=True)
class Batch:
    """Up to ten instances of one engine in one target, submitted in one call."""

    target: Target
    engine: str
    instances: tuple[InstanceView, ...]
    waves: tuple[str | None, ...] = ()

    @property
    def instance_ids(self) -> list[str]:
        """The IDs in submission order."""
        return [instance.id for instance in self.instances]


@dataclass(frozen=True)
class Plan:
    """Every instance in scope appears exactly once: in ``holds`` or in one batch."""

    holds: tuple[Hold, ...]
    batches: tuple[Batch, ...]
    plan_id: str
    rollout: Rollout
    jobs: tuple[JobRecord, ...] = ()
    backups: tuple[BackupOrder, ...] = ()
    """Backups an apply starts (each instance is also in ``holds``, as ``no_recent_backup``)."""
    durations: Durations = field(default_factory=Durations)
    """How long an upgrade takes here, learned from the jobs the run read (the window checks used these)."""


class _Candidate(NamedTuple):
    order: int
    snapshot: FleetSnapshot
    instance: InstanceView
    wave: int | None
    wave_name: str | None = None

    def hold(self, reason: Reason, detail: str, next_opening: datetime | None = None) -> Hold:
        return Hold(self.snapshot.target, self.instance.id, self.instance, reason, detail, self.wave_name, next_opening)


def plan_id(batches: Sequence[Batch]) -> str:
    """A stable hash of what would be submitted: target, instance ID and current version of each instance."""
    lines = sorted(f"{b.target.region}/{b.target.project_id}/{i.id}@{i.version}" for b in batches for i in b.instances)
    return "p-" + hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def _scope(snapshots: Sequence[FleetSnapshot], request: RunRequest) -> tuple[list[_Candidate], list[Hold]]:
    """Instances in scope (each once, in target order) and holds for requested IDs no target has."""
    found: list[_Candidate] = []
    seen: set[str] = set()
    wanted = set(request.instance_ids or ())
    for order, snapshot in enumerate(snapshots):
        for instance in snapshot.instances:
            if instance.id in seen:
                continue
            if request.instance_ids is not None:
                chosen = instance.id in wanted
            else:
                chosen = request.selector is None or selects(request.selector, instance, snapshot)
            if chosen:
                seen.add(instance.id)
                found.append(_Candidate(order, snapshot, instance, None))
    missing = [i for i in dict.fromkeys(request.instance_ids or ()) if i not in seen]
    where = snapshots[0].target if len(snapshots) == 1 else None  # looked for in several: it belongs to none
    detail = "No instance with this ID exists in any target this run could read."
    holds = [Hold(where, i, None, "not_found", detail) for i in missing]
    return found, holds


def _job_records(snapshots: Sequence[FleetSnapshot], request: RunRequest, now: datetime) -> tuple[JobRecord, ...]:
    """Running upgrade jobs, and those that ended within ``lookback``."""
    since = now - request.lookback
    records = [
        JobRecord(
            job_id=job.id,
            instance_id=job.instance_id,
            instance_name=job.instance_name or None,
            region=snapshot.target.region,
            project_id=snapshot.target.project_id,
            status=job.status,
            started_at=job.started_at,
            ended_at=job.ended_at,
            progress=job.progress or None,
            fail_reason=job.fail_reason or None,
        )
        for snapshot in snapshots
        for job in snapshot.jobs
        if job.status == "Running" or (job.ended_at is not None and job.ended_at >= since)
    ]
    return tuple(sorted(records, key=lambda r: (r.status != "Running", r.instance_name or "", r.job_id)))


def _errors_before(
    candidates: Sequence[_Candidate], latest: dict[str, JobView], request: RunRequest, now: datetime
) -> int:
    """Instances in scope whose latest upgrade within ``rollout_lookback`` failed.

    An upgrade that completed without effect (``verify_failed``) is that instance's own problem: reported, and
    counted in the ``Outcomes`` metric, but never charged here, so it holds back no other instance.
    """
    since = now - request.rollout_lookback
    count = 0
    for candidate in candidates:
        job = latest.get(candidate.instance.id)
        if job is None or job.started_at is None or job.started_at < since:
            continue
        if job.status == "Failed":
            count += 1
    return count


def _batches(chosen: Sequence[_Candidate]) -> tuple[Batch, ...]:
    """Group by target and engine, ordered by name; at most ten per batch."""
    ordered = sorted(chosen, key=lambda c: (c.order, c.instance.engine, c.instance.name, c.instance.id))
    batches: list[Batch] = []
    for (_, engine), group in groupby(ordered, key=lambda c: (c.order, c.instance.engine)):
        members = list(group)
        for start in range(0, len(members), MAX_BATCH_SIZE):
            part = members[start : start + MAX_BATCH_SIZE]
            batches.append(
                Batch(
                    part[0].snapshot.target,
                    engine,
                    tuple(c.instance for c in part),
                    tuple(c.wave_name for c in part),
                )
            )
    return tuple(batches)


def plan(snapshots: Sequence[FleetSnapshot], request: RunRequest, policy: Policy, now: datetime) -> Plan:
    """Decide, for every instance in scope, whether it is skipped, deferred, or in which batch it goes."""
    if not snapshots:
        raise ValueError("plan needs at least one snapshot")
    candidates, holds = _scope(snapshots, request)
    latest = latest_jobs(job for snapshot in snapshots for job in snapshot.jobs)
    running = {instance_id for snapshot in snapshots for instance_id in snapshot.running_upgrades}
    busy = running.union(*(snapshot.other_jobs for snapshot in snapshots))
    paired = {instance.dr_peer_id for snapshot in snapshots for instance in snapshot.instances if instance.dr_peer_id}
    peers = {
        instance.id: PeerState(instance.patch_available, instance.id in busy or bool(instance.actions))
        for snapshot in snapshots
        for instance in snapshot.instances
        if instance.id in paired
    }
    waves = request.waves or []
    wave_names = [wave.name for wave in waves]
    if waves:
        placed = []
        for candidate in candidates:
            index = wave_of(waves, candidate.instance, candidate.snapshot)
            if index is None:
                holds.append(candidate.hold("not_in_any_wave", "No wave's selector matches this instance."))
            else:
                placed.append(
                    _Candidate(candidate.order, candidate.snapshot, candidate.instance, index, wave_names[index])
                )
        candidates = placed
    members: dict[int, list[InstanceView]] = {}
    for candidate in candidates:
        if candidate.wave is not None:
            members.setdefault(candidate.wave, []).append(candidate.instance)
    statuses: list[WaveStatus] = wave_statuses(waves, members, latest, now, request.bake, request.reverify_after)

    eligible: list[_Candidate] = []
    durations = learn(
        (instance for snapshot in snapshots for instance in snapshot.instances),
        (job for snapshot in snapshots for job in snapshot.jobs),
        now,
    )
    timings: dict[tuple[str, timedelta, str], WindowVerdict | None] = {}
    failures_since, reverify_since, explicit, own_windows = (
        now - request.rollout_lookback,
        now - request.reverify_after,
        request.instance_ids is not None,
        policy.window == "instance",
    )
    for candidate in candidates:
        instance, snapshot = candidate.instance, candidate.snapshot
        last_job = latest.get(instance.id)
        failed = (
            pre_check(instance, snapshot, last_job, reverify_since)
            or failure_check(last_job, failures_since, explicit)
            or dr_check(instance, peers)
        )
        if failed is not None:
            holds.append(candidate.hold(*failed))
            continue
        estimate = durations.for_instance(instance)
        key = (instance.maintenance_window if own_windows else "", estimate.duration, estimate.source)
        if key not in timings:  # fleets share a few windows and node counts: judge each pair once
            timings[key] = timing_check(
                instance, policy.window, policy.blackouts, now, estimate.duration, estimate.source
            )
        timing = timings[key]
        if timing is not None:
            holds.append(candidate.hold(timing.reason, timing.detail, timing.next_opening))
            continue
        eligible.append(candidate)

    in_scope = len(candidates) + sum(1 for hold in holds if hold.reason == "not_in_any_wave")
    max_in_flight = resolve_limit(request.max_in_flight, in_scope, at_least_one=True)
    max_errors = resolve_limit(request.max_errors, in_scope, at_least_one=False)
    # every running upgrade in the targets counts, whoever started it: with the apply lease the limit is fleet-wide
    in_flight = len(running)
    errors = _errors_before(candidates, latest, request, now)
    exhausted = errors > max_errors
    slots = max(0, max_in_flight - in_flight)
    backup_state = backup_states(b for snapshot in snapshots for b in snapshot.backups or ()) if request.backup else {}
    backup_orders: list[BackupOrder] = []
    eligible.sort(
        key=lambda c: (c.wave or 0, c.instance.dr_role != "standby", c.order, c.instance.engine, c.instance.name)
    )
    chosen: list[_Candidate] = []
    for candidate in eligible:
        if candidate.wave is not None and not statuses[candidate.wave].ready:
            status = statuses[candidate.wave]
            holds.append(candidate.hold("wave_not_ready", status.detail, status.opens_at))
        elif exhausted:
            detail = f"{errors} error(s) exceed max_errors {max_errors}; nothing is submitted until an operator acts."
            holds.append(candidate.hold("error_budget_exhausted", detail))
        elif request.backup and (wanting := backup_check(backup_state.get(candidate.instance.id), request.backup, now)):
            reason, detail, start = wanting
            if start and len(backup_orders) >= max_in_flight:
                detail += f" This run starts at most {max_in_flight} backups (max_in_flight); a later run starts it."
            elif start:
                backup_orders.append(BackupOrder(candidate.snapshot.target, candidate.instance, candidate.wave_name))
            holds.append(candidate.hold(reason, detail))
        elif len(chosen) >= slots:
            detail = (
                f"{in_flight + len(chosen)} upgrade(s) would be in flight; max_in_flight is {max_in_flight} "
                "(raise it to submit more at once)."
            )
            holds.append(candidate.hold("max_in_flight", detail))
        else:
            chosen.append(candidate)
    batches = _batches(chosen)
    rollout = Rollout(
        in_scope=in_scope,
        in_flight_before=in_flight,
        max_in_flight=max_in_flight,
        errors_before=errors,
        errors_this_run=0,
        max_errors=max_errors,
        error_budget_exhausted=exhausted,
        waves=statuses,
    )
    jobs = _job_records(snapshots, request, now)
    return Plan(tuple(holds), batches, plan_id(batches), rollout, jobs, tuple(backup_orders), durations)
