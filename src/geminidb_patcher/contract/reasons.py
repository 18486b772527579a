"""Why an instance is held back: one typed table, one row per reason, in the order the checks run.

Each row says whether the instance is ``skipped`` (a check excluded it) or ``deferred`` (eligible, held by a limit),
what it waits for before it can go (the forecast's groups; ``None``: nothing a later run can wait out), and whether
an operator must act. ``status`` stands for every instance status but ``normal``: on the wire it reads
``status_<status>`` (``status_frozen``…). The README's tables list the rows in this order (a test holds them equal).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Reason = Literal[
    # skipped: the checks, first applicable first
    "not_found",
    "not_in_any_wave",
    "unsupported_engine",
    "status",
    "abnormal_node",
    "upgrade_running",
    "upgrade_scheduled",
    "busy",
    "no_patch_available",
    "verify_failed",
    "last_upgrade_failed",
    "dr_role_unknown",
    "waiting_for_dr_standby",
    "waiting_for_dual_active_peer",
    "blackout",
    "no_maintenance_window",
    "outside_maintenance_window",
    "window_too_short",
    "no_recent_backup",
    "backup_running",
    "backup_failed",
    # deferred: limits of the rollout or of the run
    "wave_not_ready",
    "error_budget_exhausted",
    "max_in_flight",
    "deadline",
    "another_run_applying",
    "lease_unavailable",
]
WaitingFor = Literal[
    "upgrading", "window", "blackout", "wave", "peer", "backup", "in_flight", "next_run", "error_budget", "no_window"
]
"""What instances that are behind and held back wait for, in the order a forecast lists them (``no_window``: no
maintenance window, or none long enough for the upgrade)."""
WAITING_FOR: tuple[WaitingFor, ...] = get_args(WaitingFor)
STATUS_PREFIX = "status_"
ANOTHER_RUN: Reason = "another_run_applying"
"""Held because another run holds the target's apply lease: the webhook answers 409, the CLI exits 6."""


@dataclass(frozen=True)
class ReasonInfo:
    """One row of the table."""

    outcome: Literal["skipped", "deferred"]
    waits_for: WaitingFor | None = None
    operator_must_act: bool = False


_SKIP = ReasonInfo("skipped")
_OPERATOR = ReasonInfo("skipped", operator_must_act=True)

REASONS: dict[Reason, ReasonInfo] = {
    "not_found": _SKIP,
    "not_in_any_wave": _SKIP,
    "unsupported_engine": _OPERATOR,
    "status": _OPERATOR,
    "abnormal_node": _OPERATOR,
    "upgrade_running": ReasonInfo("skipped", "upgrading"),
    "upgrade_scheduled": ReasonInfo("skipped", "upgrading"),
    "busy": ReasonInfo("skipped", "next_run"),
    "no_patch_available": _SKIP,
    "verify_failed": _OPERATOR,
    "last_upgrade_failed": _OPERATOR,
    "dr_role_unknown": _OPERATOR,
    "waiting_for_dr_standby": ReasonInfo("skipped", "peer"),
    "waiting_for_dual_active_peer": ReasonInfo("skipped", "peer"),
    "blackout": ReasonInfo("skipped", "blackout"),
    "no_maintenance_window": ReasonInfo("skipped", "no_window"),
    "outside_maintenance_window": ReasonInfo("skipped", "window"),
    "window_too_short": ReasonInfo("skipped", "window"),
    "no_recent_backup": ReasonInfo("skipped", "backup"),
    "backup_running": ReasonInfo("skipped", "backup"),
    "backup_failed": ReasonInfo("skipped", "backup"),
    "wave_not_ready": ReasonInfo("deferred", "wave"),
    "error_budget_exhausted": ReasonInfo("deferred", "error_budget"),
    "max_in_flight": ReasonInfo("deferred", "in_flight"),
    "deadline": ReasonInfo("deferred", "next_run"),
    "another_run_applying": ReasonInfo("deferred", "next_run"),
    "lease_unavailable": ReasonInfo("deferred", "next_run"),
}
"""Every reason, in the order of ``Reason``."""

SKIP_REASONS: tuple[Reason, ...] = tuple(reason for reason, info in REASONS.items() if info.outcome == "skipped")
DEFER_REASONS: tuple[Reason, ...] = tuple(reason for reason, info in REASONS.items() if info.outcome == "deferred")


def reason_code(reason: Reason, status: str = "") -> str:
    """The reason as an outcome carries it: the code, or ``status_<status>`` for ``status``."""
    return f"{STATUS_PREFIX}{status or 'unknown'}" if reason == "status" else reason


def reason_of(code: str | None) -> Reason | None:
    """The table's reason for an outcome's code (``status_frozen`` → ``status``); ``None`` for any other text."""
    if code is None:
        return None
    if code.startswith(STATUS_PREFIX):
        return "status"
    return _BY_CODE.get(code)


_BY_CODE: dict[str, Reason] = {reason: reason for reason in REASONS}
