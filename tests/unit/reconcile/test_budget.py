"""The error budget: limits, what counts, and the one place a run's errors are settled."""

from __future__ import annotations

from geminidb_patcher.contract.report import Outcome, Rollout
from geminidb_patcher.reconcile.budget import ErrorBudget, counts_as_error, resolve_limit, settle


def outcome(kind: str, code: str | None = None) -> Outcome:
    return Outcome(instance_id="x", region="r", project_id="p", outcome=kind, error_code=code)  # type: ignore[arg-type]


def rollout(errors_before: int, max_errors: int) -> Rollout:
    return Rollout(
        in_scope=10,
        in_flight_before=0,
        max_in_flight=5,
        errors_before=errors_before,
        errors_this_run=0,
        max_errors=max_errors,
        error_budget_exhausted=errors_before > max_errors,
    )


def test_only_failures_and_real_rejections_count() -> None:
    assert counts_as_error(outcome("failed")) and counts_as_error(outcome("rejected", "DBS.200047"))
    for busy in ("DBS.200011", "DBS.200019", "DBS.280236"):
        assert not counts_as_error(outcome("rejected", busy))
    assert not any(counts_as_error(outcome(kind)) for kind in ("skipped", "deferred", "planned", "submitted"))


def test_settle_counts_this_runs_errors_against_what_was_left() -> None:
    settled = settle(rollout(1, 2), [outcome("failed"), outcome("rejected", "DBS.200019"), outcome("submitted")])
    assert (settled.errors_this_run, settled.error_budget_exhausted) == (1, False)
    assert settle(rollout(2, 2), [outcome("failed")]).error_budget_exhausted


def test_the_budget_for_a_rollout_is_what_max_errors_leaves() -> None:
    budget = ErrorBudget.for_rollout(rollout(1, 2))
    budget.record([outcome("failed")])
    assert not budget.exhausted
    budget.record([outcome("failed")])
    assert budget.exhausted


def test_percent_limits_round_down_and_keep_one_when_asked() -> None:
    assert resolve_limit("25%", 3, at_least_one=True) == 1 and resolve_limit("25%", 3, at_least_one=False) == 0
    assert resolve_limit(7, 3, at_least_one=True) == 7
