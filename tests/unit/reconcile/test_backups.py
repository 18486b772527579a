"""The backup gate: which backup counts, what is said, and how many backups one apply starts."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from geminidb_patcher.contract.request import BackupRequirement, RunRequest
from geminidb_patcher.reconcile.backups import BackupState, backup_check, backup_states
from geminidb_patcher.reconcile.snapshot import BackupView
from tests.helpers import make_instance, plan_of, reasons, snapshot

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
DAY = BackupRequirement(within=timedelta(hours=24))


def backup(instance: str, status: str, ended_hours_ago: float | None, began_hours_ago: float = 30) -> BackupView:
    ended = NOW - timedelta(hours=ended_hours_ago) if ended_hours_ago is not None else None
    return BackupView(f"b-{instance}-{status}-{ended_hours_ago}", instance, status, "Auto",
                      NOW - timedelta(hours=began_hours_ago), ended)  # fmt: skip


def test_the_newest_completed_backup_counts_building_and_failed_ones_are_kept_apart() -> None:
    states = backup_states(
        [
            backup("a", "COMPLETED", 40),
            backup("a", "COMPLETED", 3),
            backup("a", "FAILED", 1),
            backup("b", "BUILDING", None),
        ]
    )
    assert states["a"].last_completed is not None and states["a"].last_completed.ended_at == NOW - timedelta(hours=3)
    assert states["a"].last_failed is not None and states["b"].building is not None
    assert backup_check(states["a"], DAY, NOW) is None


def test_an_old_or_missing_backup_holds_the_instance_and_says_what_it_found() -> None:
    old = backup_check(backup_states([backup("a", "COMPLETED", 30), backup("a", "FAILED", 2)])["a"], DAY, NOW)
    assert old is not None
    reason, detail, start = old
    assert (reason, start) == ("no_recent_backup", False)
    assert "ended 2026-11-27 06:00 UTC" in detail and "FAILED" in detail and "last 24 h" in detail

    none = backup_check(None, BackupRequirement(within=timedelta(hours=6), create=True), NOW)
    assert none is not None and none[0] == "no_recent_backup" and none[2] is True
    assert "no completed full backup" in none[1] and "An apply starts a manual backup" in none[1]


def test_a_building_backup_is_waited_for_and_never_doubled() -> None:
    state = BackupState(building=backup("a", "BUILDING", None, began_hours_ago=0.2))
    found = backup_check(state, BackupRequirement(within=timedelta(hours=24), create=True), NOW)
    assert found is not None and found[0] == "backup_running" and found[2] is False


def test_an_apply_starts_at_most_max_in_flight_backups_and_the_rest_wait() -> None:
    rng = random.Random(3)
    shot = snapshot([make_instance(rng) for _ in range(6)])
    request = RunRequest(mode="apply", window="anytime", max_in_flight=2,
                         backup=BackupRequirement(within=timedelta(hours=24), create=True))  # fmt: skip
    result = plan_of([shot], request, now=NOW)
    assert set(reasons(result).values()) == {"no_recent_backup"} and not result.batches
    assert len(result.backups) == 2
    capped = [hold for hold in result.holds if hold.instance_id not in {o.instance.id for o in result.backups}]
    assert all("starts at most 2 backups" in hold.detail for hold in capped)
