"""Rate control after Systems Manager's MaxConcurrency/MaxErrors: limits, what counts as an error, the budget."""

from __future__ import annotations

import threading
from collections.abc import Iterable

from geminidb_patcher.contract.report import Outcome, Rollout
from geminidb_patcher.contract.request import Limit
from geminidb_patcher.reconcile.ports import STATE_REFUSAL_CODES

UNCOUNTED_REJECTIONS = STATE_REFUSAL_CODES | {"DBS.280236"}
"""Rejections that mean "not now" rather than "this went wrong": the state refusals above, and no patch available
(someone patched it first)."""
PERMISSION_DENIED = "PermissionDenied"
"""The error code of a batch refused for a missing IAM permission: a configuration error, not the instances'."""


def resolve_limit(limit: Limit, in_scope: int, *, at_least_one: bool) -> int:
    """A count as given, or a percentage of ``in_scope`` rounded down (to at least 1 when asked)."""
    if isinstance(limit, int):
        return limit
    percent = int(limit.rstrip("%"))
    value = percent * in_scope // 100
    return max(1, value) if at_least_one and percent > 0 and in_scope > 0 else value


def counts_as_error(outcome: Outcome) -> bool:
    """A rejection other than a transient conflict, or a batch call that failed; never a skip or deferral."""
    if outcome.outcome == "failed":
        return outcome.error_code != PERMISSION_DENIED
    return outcome.outcome == "rejected" and outcome.error_code not in UNCOUNTED_REJECTIONS


class ErrorBudget:
    """Errors allowed in this run; shared by the submitting threads."""

    def __init__(self, allowed: int) -> None:
        self._left = allowed
        self._lock = threading.Lock()

    @classmethod
    def for_rollout(cls, rollout: Rollout) -> ErrorBudget:
        """What is left of ``max_errors`` after the errors before this run."""
        return cls(rollout.max_errors - rollout.errors_before)

    @property
    def exhausted(self) -> bool:
        """More errors than allowed have happened: submit nothing more."""
        with self._lock:
            return self._left < 0

    def record(self, outcomes: Iterable[Outcome]) -> None:
        """Count the errors among ``outcomes``."""
        errors = sum(1 for outcome in outcomes if counts_as_error(outcome))
        with self._lock:
            self._left -= errors


def settle(rollout: Rollout, outcomes: Iterable[Outcome]) -> Rollout:
    """The plan's rollout with this run's errors counted: the one place the budget's arithmetic is done."""
    spent = sum(1 for outcome in outcomes if counts_as_error(outcome))
    exhausted = rollout.error_budget_exhausted or rollout.errors_before + spent > rollout.max_errors
    return rollout.model_copy(update={"errors_this_run": spent, "error_budget_exhausted": exhausted})
