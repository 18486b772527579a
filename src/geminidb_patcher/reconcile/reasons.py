"""The reason codes a held instance carries: one vocabulary, in the order the checks run (the README's table)."""

from __future__ import annotations

from typing import Literal, get_args

SkipReason = Literal[
    "not_found",
    "not_in_any_wave",
    "unsupported_engine",
    "status_<status>",
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
]
"""Why an instance is ``skipped``, first applicable first; ``status_<status>`` stands for ``status_frozen`` etc."""
DeferReason = Literal[
    "wave_not_ready",
    "error_budget_exhausted",
    "max_in_flight",
    "deadline",
    "another_run_applying",
    "lease_unavailable",
]
"""Why an eligible instance is ``deferred``: a limit of the rollout or of the run, not the instance."""

SKIP_REASONS: tuple[str, ...] = get_args(SkipReason)
DEFER_REASONS: tuple[str, ...] = get_args(DeferReason)
STATUS_PREFIX = "status_"


def status_reason(status: str) -> str:
    """The reason for an instance whose status is not ``normal``: ``status_<status>``."""
    return f"{STATUS_PREFIX}{status or 'unknown'}"


def is_reason(code: str) -> bool:
    """Whether ``code`` belongs to the vocabulary (any ``status_…`` does)."""
    return code in SKIP_REASONS or code in DEFER_REASONS or code.startswith(STATUS_PREFIX)
