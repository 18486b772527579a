"""Waves: wave k+1 opens when wave k is patched, baked and failure-free, judged from observations alone."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

from geminidb_patcher.contract.report import WaveStatus
from geminidb_patcher.contract.request import SUPPORTED_ENGINES, Wave
from geminidb_patcher.reconcile.eligibility import selects, verify_failed
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView, JobView


def wave_of(waves: Sequence[Wave], instance: InstanceView, snapshot: FleetSnapshot) -> int | None:
    """Index of the first wave whose selector matches ``instance``."""
    return next((index for index, wave in enumerate(waves) if selects(wave.selector, instance, snapshot)), None)


def _needs_patch(instance: InstanceView) -> bool:
    return instance.engine in SUPPORTED_ENGINES and instance.patch_available


def _failed(instance: InstanceView, job: JobView | None, reverify_since: datetime) -> bool:
    return job is not None and (job.status == "Failed" or verify_failed(instance, job, reverify_since))


def _baking(job: JobView | None, now: datetime, bake: timedelta) -> bool:
    return job is not None and job.status == "Completed" and job.ended_at is not None and now - job.ended_at < bake


def wave_statuses(
    waves: Sequence[Wave],
    members: Mapping[int, list[InstanceView]],
    latest: Mapping[str, JobView],
    now: datetime,
    bake: timedelta,
    reverify_after: timedelta = timedelta(days=1),
) -> list[WaveStatus]:
    """Each wave's progress; a wave is ready when every earlier wave is patched, baked and failure-free.

    A wave that is not ready waits for the wave before it; only the one right after the first unfinished wave can
    name when it opens (that wave's bake end), the later ones wait for the waves between as well.
    """
    statuses: list[WaveStatus] = []
    blocker: str | None = None
    blocked_after = len(waves)
    opens_at: datetime | None = None
    for index, wave in enumerate(waves):
        instances = members.get(index, [])
        pending = sum(1 for i in instances if _needs_patch(i))
        failed = sum(1 for i in instances if _failed(i, latest.get(i.id), now - reverify_after))
        baking = [latest[i.id] for i in instances if _baking(latest.get(i.id), now, bake)]
        detail = blocker or f"Open: {pending} of {len(instances)} instances still need the patch."
        statuses.append(
            WaveStatus(
                name=wave.name,
                instances=len(instances),
                pending=pending,
                failed=failed,
                ready=blocker is None,
                detail=detail,
                waits_for=waves[index - 1].name if index > blocked_after else None,
                opens_at=opens_at if index == blocked_after + 1 else None,
            )
        )
        if blocker is not None:
            continue
        if failed:
            blocker = f"Waiting: wave '{wave.name}' has {failed} failed upgrade(s); an operator must act."
        elif pending:
            blocker = f"Waiting: wave '{wave.name}' still has {pending} instance(s) to patch."
        elif baking:
            opens_at = max(job.ended_at for job in baking if job.ended_at is not None) + bake
            blocker = f"Waiting: wave '{wave.name}' is baking until {opens_at:%Y-%m-%d %H:%M UTC}."
        if blocker is not None:
            blocked_after = index
    return statuses
