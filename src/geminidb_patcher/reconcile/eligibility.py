"""Scope and per-instance eligibility: every reason an instance may not be patched now, in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from geminidb_patcher.contract.reasons import Reason
from geminidb_patcher.contract.request import SUPPORTED_ENGINES, Selector
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView, JobView, tag_filter
from geminidb_patcher.reconcile.windows import (
    DailyWindow,
    WindowVerdict,
    check_blackouts,
    check_window,
    estimated_duration,
    first_start,
    parse_maintenance_window,
)

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
WindowChoice = DailyWindow | Literal["instance", "anytime"]


def matches_name(pattern: str, name: str) -> bool:
    """Huawei's name rule: exact match, or with a leading ``*`` a match anywhere in the name."""
    return pattern[1:] in name if pattern.startswith("*") else pattern == name


def selects(selector: Selector, instance: InstanceView, snapshot: FleetSnapshot) -> bool:
    """Whether ``selector`` matches ``instance``; tag matches come from the snapshot's tag queries."""
    return (
        instance.id not in selector.exclude_ids
        and (selector.engines is None or instance.engine in selector.engines)
        and (selector.name is None or matches_name(selector.name, instance.name))
        and (selector.modes is None or instance.mode in selector.modes)
        and (not selector.tags or instance.id in snapshot.tagged.get(tag_filter(selector.tags), frozenset()))
    )


def latest_jobs(jobs: Iterable[JobView]) -> dict[str, JobView]:
    """instance ID → its most recently started upgrade job."""
    return {job.instance_id: job for job in sorted(jobs, key=lambda job: job.started_at or EPOCH)}


def verify_failed(instance: InstanceView, last_job: JobView | None, reverify_since: datetime) -> bool:
    """Its last upgrade job completed at or after ``reverify_since``, yet the instance still offers a patch.

    A patch offered again after an upgrade that ended earlier is taken for a new patch (a hotfix released since):
    nothing records which version a job installed, so the time since the job is what tells the two apart.
    """
    return (
        last_job is not None
        and last_job.status == "Completed"
        and instance.patch_available
        and instance.engine in SUPPORTED_ENGINES
        and (last_job.ended_at or last_job.started_at or reverify_since) >= reverify_since
    )


def pre_check(
    instance: InstanceView, snapshot: FleetSnapshot, last_job: JobView | None, reverify_since: datetime
) -> tuple[Reason, str] | None:
    """The first state check ``instance`` fails, as ``(reason, sentence)``; ``None`` when its state allows a patch."""
    if instance.engine not in snapshot.patchable_engines:
        accepted = ", ".join(sorted(snapshot.patchable_engines)) or "none"
        return (
            "unsupported_engine",
            f"Engine '{instance.engine}' cannot be patched by the batch API here ({snapshot.site}: {accepted}).",
        )
    if instance.status != "normal":
        return "status", f"Status is '{instance.status}'; patching needs 'normal'."
    if instance.abnormal_parts:
        return "abnormal_node", f"Not every node is healthy ({', '.join(instance.abnormal_parts)})."
    job = snapshot.running_upgrades.get(instance.id)
    if job is not None:
        return "upgrade_running", f"Upgrade job {job} is already running for this instance."
    task = snapshot.scheduled_upgrades.get(instance.id)
    if task is not None:
        return "upgrade_scheduled", f"A patch upgrade (task {task}) is already scheduled for its maintenance window."
    if instance.actions:
        return "busy", f"The instance is busy with {', '.join(instance.actions)}."
    other = snapshot.other_jobs.get(instance.id)
    if other is not None:
        return "busy", f"Job {other} is running for this instance."
    if not instance.patch_available:
        return (
            "no_patch_available",
            "No patch offered: Huawei reports patch_available false (no patch may be applied now).",
        )
    if verify_failed(instance, last_job, reverify_since):
        assert last_job is not None
        return (
            "verify_failed",
            (
                f"Upgrade job {last_job.id} completed, yet a patch is still available; check the instance. After "
                "reverify_after a patch still offered is taken for a new one. Not counted against max_errors."
            ),
        )
    return None


def failure_check(last_job: JobView | None, since: datetime, explicit: bool) -> tuple[Reason, str] | None:
    """An instance whose last upgrade failed is not retried by itself; naming it in ``instance_ids`` retries it."""
    if explicit or last_job is None or last_job.status != "Failed":
        return None
    if last_job.started_at is not None and last_job.started_at < since:
        return None
    why = f": {last_job.fail_reason.rstrip('.')}" if last_job.fail_reason else ""
    return (
        "last_upgrade_failed",
        f"Upgrade job {last_job.id} failed{why}. Fix the cause, then retry it by naming it in instance_ids.",
    )


@dataclass(frozen=True)
class PeerState:
    """What the run saw of a DR peer, in whichever target it lives."""

    patch_available: bool
    upgrading: bool


def dual_active_check(instance: InstanceView, peers: Mapping[str, PeerState]) -> tuple[Reason, str] | None:
    """One side at a time: of a dual-active pair, the side with the lower ID goes first, the other waits."""
    peer_id = instance.dr_peer_id
    if instance.pair != "dual_active" or instance.id < peer_id:
        return None
    peer = peers.get(peer_id)
    if peer is None:
        return (
            "waiting_for_dual_active_peer",
            (
                f"Its dual-active peer {peer_id} is not in any target of this run; add the peer's region and "
                "project so the two sides are patched one at a time."
            ),
        )
    if peer.patch_available or peer.upgrading:
        return (
            "waiting_for_dual_active_peer",
            f"Its dual-active peer {peer_id} is patched first; the two sides are never patched at once.",
        )
    return None


def dr_check(instance: InstanceView, peers: Mapping[str, PeerState]) -> tuple[Reason, str] | None:
    """Standby first: a DR primary waits until its standby is patched and idle."""
    if instance.pair == "dual_active":
        return dual_active_check(instance, peers)
    if not instance.dr_peer_id or instance.dr_role == "standby":
        return None
    if instance.dr_role == "unknown":
        why = instance.dr_role_problem or "its role was not read"
        return (
            "dr_role_unknown",
            (
                f"It is in a disaster-recovery pair with {instance.dr_peer_id}, but its role is unknown ({why}); "
                "the pair waits. Patch it by hand, standby first, or retry when the role can be read."
            ),
        )
    peer = peers.get(instance.dr_peer_id)
    if peer is None:
        return (
            "waiting_for_dr_standby",
            (
                f"Its DR standby {instance.dr_peer_id} is not in any target of this run; add the standby's "
                "region and project so it can be patched first."
            ),
        )
    if peer.patch_available or peer.upgrading:
        return "waiting_for_dr_standby", f"Its DR standby {instance.dr_peer_id} must be patched first."
    return None


def timing_check(
    instance: InstanceView,
    window: WindowChoice,
    blackouts: list[tuple[datetime, datetime, str]],
    now: datetime,
    needed: timedelta | None = None,
    source: str = "",
) -> WindowVerdict | None:
    """The blackouts, then the window, for as long as this instance's upgrade may take (``needed``, by default
    Huawei's figure; ``source`` says where it comes from in the verdict's sentence).

    The verdict's next opening is the first moment both allow: never inside a closed window or a blackout.
    """
    needed = needed or estimated_duration(instance)
    if window == "anytime":
        daily: DailyWindow | None = None
    elif window == "instance":
        daily = parse_maintenance_window(instance.maintenance_window)
    else:
        daily = window
    verdict = check_blackouts(blackouts, now, needed)
    if verdict is None and window == "instance" and daily is None:
        return WindowVerdict(
            "no_maintenance_window",
            f"The instance reports no readable maintenance window ('{instance.maintenance_window}').",
            None,
        )
    if verdict is None and daily is not None:
        label = (
            f"instance's maintenance window {instance.maintenance_window} UTC"
            if window == "instance"
            else "requested window"
        )
        verdict = check_window(daily, now, needed, label, source)
    if verdict is None or verdict.next_opening is None or not blackouts:
        return verdict  # without blackouts, the window's own next opening is the first moment
    both = first_start(daily, blackouts, now, needed)
    if both == verdict.next_opening:
        return verdict
    later = (
        f" The first moment the window and the blackouts both allow is {both:%Y-%m-%d %H:%M} UTC."
        if both
        else " No moment in the next five weeks is both inside the window and clear of blackouts."
    )
    return WindowVerdict(verdict.reason, verdict.detail + later, both)
