"""The backup gate: is an instance's last completed full backup recent enough, and if not, what is under way."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from geminidb_patcher.contract.reasons import Reason
from geminidb_patcher.contract.request import BackupRequirement, Target
from geminidb_patcher.reconcile.snapshot import BackupView, InstanceView
from geminidb_patcher.reconcile.windows import utc_minute

LISTING_MARGIN = timedelta(days=1)
"""ListBackups filters on a backup's begin time: one that began up to a day before ``within`` may have ended inside."""


@dataclass(frozen=True)
class BackupOrder:
    """An instance held for want of a recent backup, for which an apply starts one (``backup.create``)."""

    target: Target
    instance: InstanceView
    wave: str | None = None


@dataclass(frozen=True)
class BackupState:
    """What the listing says of one instance's backups."""

    last_completed: BackupView | None = None
    building: BackupView | None = None
    last_failed: BackupView | None = None


def backup_states(backups: Iterable[BackupView]) -> dict[str, BackupState]:
    """instance ID → its newest completed, building and failed backup."""

    def newer(current: BackupView | None, candidate: BackupView, at: datetime | None) -> BackupView:
        if current is None:
            return candidate
        known = current.ended_at or current.began_at or datetime.min.replace(tzinfo=UTC)
        return candidate if at is not None and at > known else current

    states: dict[str, BackupState] = {}
    for backup in backups:
        state = states.get(backup.instance_id, BackupState())
        if backup.status == "COMPLETED" and backup.ended_at is not None:
            state = BackupState(newer(state.last_completed, backup, backup.ended_at), state.building, state.last_failed)
        elif backup.status == "BUILDING":
            state = BackupState(state.last_completed, newer(state.building, backup, backup.began_at), state.last_failed)
        elif backup.status == "FAILED":
            state = BackupState(state.last_completed, state.building, newer(state.last_failed, backup, backup.ended_at))
        states[backup.instance_id] = state
    return states


def _at(moment: datetime | None) -> str:
    return utc_minute(moment) if moment else "an unknown time"


def backup_check(
    state: BackupState | None, requirement: BackupRequirement, now: datetime
) -> tuple[Reason, str, bool] | None:
    """``None`` when a completed full backup ended within ``requirement.within``; else the hold's reason, its
    sentence, and whether a backup should be started for it (``create``, and none building)."""
    state = state or BackupState()
    completed = state.last_completed
    if completed is not None and completed.ended_at is not None and completed.ended_at >= now - requirement.within:
        return None
    if state.building is not None:
        began = _at(state.building.began_at)
        building = (
            f"Backup {state.building.id} (began {began}) is BUILDING; patched on the first run after it COMPLETED."
        )
        return "backup_running", building, False
    last = (
        f"its last completed full backup ended {_at(completed.ended_at)}"
        if completed is not None
        else "it has no completed full backup in the listing"
    )
    failed = f"; backup {state.last_failed.id} FAILED" if state.last_failed is not None else ""
    hours = requirement.within.total_seconds() / 3600
    detail = f"Needs a completed full backup from the last {hours:g} h: {last}{failed}."
    if requirement.create:
        detail += " An apply starts a manual backup first (backup.create), then patches once it has COMPLETED."
    return "no_recent_backup", detail, requirement.create
