"""One run: for every target observe, plan and (in apply mode) act; then report and notify."""

from __future__ import annotations

import functools
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.errors import NoTargetError, PlanChangedError, UpstreamError
from geminidb_patcher.models import (
    OUTCOME_KINDS,
    Blackout,
    Outcome,
    RunReport,
    RunRequest,
    Target,
    TargetError,
    Trigger,
    TriggerSource,
)
from geminidb_patcher.notify.dispatch import Notifier
from geminidb_patcher.reconcile.act import ActSettings, BatchRecord, Submitter, outcome_for
from geminidb_patcher.reconcile.budget import ErrorBudget, counts_as_error
from geminidb_patcher.reconcile.observe import observe
from geminidb_patcher.reconcile.plan import Plan, Policy, plan
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.reconcile.snapshot import FleetSnapshot
from geminidb_patcher.telemetry import count_with_dimensions, logger, metrics

OUTCOMES_PER_RECORD = 200
"""Outcomes per ``run_outcomes`` log record, so every record stays far below CloudWatch's 256 KB event limit."""


READ_RESERVE_SHARE = 4
"""Reads stop when less than a quarter of ``DEADLINE_MARGIN_MS`` is left (5 s by default): enough to report."""


@dataclass(frozen=True)
class RunContext:
    """Who asked, and how much time is left."""

    run_id: str
    trigger: Trigger
    remaining_ms: Callable[[], int]
    source: TriggerSource | None = None


def held_and_planned(result: Plan) -> tuple[list[Outcome], list[Outcome]]:
    """Outcomes of the plan's holds, and ``planned`` outcomes for what the batches would submit."""
    held = [
        outcome_for(
            hold.target,
            hold.instance_id,
            hold.instance,
            outcome=hold.outcome,
            reason=hold.reason,
            detail=hold.detail,
            wave=hold.wave,
            next_window_at=hold.next_opening,
        )
        for hold in result.holds
    ]
    planned = [
        outcome_for(
            batch.target,
            instance.id,
            instance,
            outcome="planned",
            wave=batch.waves[index] if index < len(batch.waves) else None,
            detail=f"Would be submitted in batch {number} of {len(result.batches)} ({batch.engine}).",
        )
        for number, batch in enumerate(result.batches, start=1)
        for index, instance in enumerate(batch.instances)
    ]
    return held, planned


def _log_batch(record: BatchRecord) -> None:
    logger.info(
        "upgrade_batch",
        extra={
            "region": record.target.region,
            "project_id": record.target.project_id,
            "engine": record.engine,
            "instance_ids": record.instance_ids,
            "upgrade_results": record.upgrade_results,
            "error_code": record.error.error_code if record.error else None,
            "error": str(record.error) if record.error else None,
            "confirmed_by_reobservation": record.confirmed_by_reobservation,
        },
    )


def _target_error(target: Target, error: UpstreamError) -> TargetError:
    logger.error(
        "target_failed",
        extra={
            "region": target.region,
            "project_id": target.project_id,
            "error_code": error.error_code,
            "error": str(error),
        },
    )
    return TargetError(
        region=target.region, project_id=target.project_id, error_code=error.error_code, error_message=str(error)
    )


class Patcher:
    """Runs requests against the targets; everything it touches comes in through the constructor."""

    def __init__(
        self,
        *,
        clients: Callable[[Target, Callable[[], float]], GeminiDBPort],
        default_target: Target | None,
        act_settings: ActSettings,
        notifier: Notifier,
        clock: Callable[[], datetime],
        blackouts: Sequence[Blackout] = (),
        on_batch: Callable[[BatchRecord], None] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clients = clients
        self._default_target = default_target
        self._act_settings = act_settings
        self._notifier = notifier
        self._clock = clock
        self._blackouts = tuple(blackouts)
        self._on_batch = on_batch
        self._sleep = sleep

    def _observe_all(
        self, ports: Callable[[Target], GeminiDBPort], targets: list[Target], request: RunRequest, now: datetime
    ) -> tuple[list[FleetSnapshot], list[TargetError]]:
        """Observe every target concurrently; a target that fails is reported, the others go on."""

        def one(target: Target) -> FleetSnapshot | TargetError:
            try:
                return observe(ports(target), target, now, request, self._act_settings.concurrency)
            except UpstreamError as error:
                return _target_error(target, error)

        workers = max(1, min(len(targets), self._act_settings.concurrency))
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="observe") as pool:
            results = list(pool.map(one, targets))
        snapshots = [r for r in results if isinstance(r, FleetSnapshot)]
        return snapshots, [r for r in results if isinstance(r, TargetError)]

    def run(self, request: RunRequest, context: RunContext) -> RunReport:
        """Run ``request`` to the end; every instance in scope gets exactly one outcome."""
        started = self._clock()
        logger.append_keys(run_id=context.run_id, trigger=context.trigger, mode=request.mode)
        targets = list(dict.fromkeys(request.targets or ([self._default_target] if self._default_target else [])))
        if not targets:
            raise NoTargetError("no targets in the request and no default target configured")
        reserve_ms = self._act_settings.deadline_margin_ms / READ_RESERVE_SHARE

        def time_left() -> float:
            """Seconds the calls of this run may still use: the report and the notifications keep the reserve."""
            return (context.remaining_ms() - reserve_ms) / 1000

        ports = functools.cache(lambda target: self._clients(target, time_left))  # one client per target per run
        snapshots, errors = self._observe_all(ports, targets, request, started)
        outcomes: list[Outcome] = []
        raw_results: list[dict[str, Any]] = []
        result: Plan | None = None
        if snapshots:
            now = self._clock()
            result = plan(snapshots, request, Policy.resolve(request, context.trigger, self._blackouts), now)
            self._check_pinned(request, result)
            held, planned = held_and_planned(result)
            outcomes = held + planned
            if request.mode == "apply":
                outcomes, raw_results = self._act(ports, result, held, context)
        counts = Counter(outcome.outcome for outcome in outcomes)
        notes = []
        if request.instance_ids and len(set(request.instance_ids)) != len(request.instance_ids):
            notes.append("Duplicate instance_ids were removed.")
        if request.targets and len(set(request.targets)) != len(request.targets):
            notes.append("Duplicate targets were removed.")
        if isinstance(request.notify, list):
            unknown = sorted(set(request.notify) - set(self._notifier.names))
            if unknown:
                notes.append(f"notify names channels that are not configured: {', '.join(unknown)}.")
        rollout = None
        if result is not None:
            spent = sum(1 for outcome in outcomes if counts_as_error(outcome))
            exhausted = result.rollout.error_budget_exhausted or result.rollout.errors_before + spent > (
                result.rollout.max_errors
            )
            rollout = result.rollout.model_copy(update={"errors_this_run": spent, "error_budget_exhausted": exhausted})
            if exhausted:
                notes.append("The error budget is spent: nothing more is submitted until an operator acts.")
        report = RunReport(
            run_id=context.run_id,
            trigger=context.trigger,
            mode=request.mode,
            started_at=started,
            finished_at=self._clock(),
            targets=targets,
            counts={kind: counts.get(kind, 0) for kind in OUTCOME_KINDS},
            outcomes=outcomes,
            upgrade_results=raw_results,
            errors=errors,
            notes=notes,
            plan_id=result.plan_id if result else None,
            rollout=rollout,
            jobs=list(result.jobs) if result else [],
            source=context.source,
        )
        self._publish(report, request)
        return report

    @staticmethod
    def _check_pinned(request: RunRequest, result: Plan) -> None:
        if request.mode == "apply" and request.expected_plan_id and request.expected_plan_id != result.plan_id:
            logger.error(
                "plan_changed", extra={"expected_plan_id": request.expected_plan_id, "plan_id": result.plan_id}
            )
            metrics.add_metric(name="PlanChanged", unit=MetricUnit.Count, value=1)
            raise PlanChangedError(request.expected_plan_id, result.plan_id)

    def _batch_done(self, record: BatchRecord) -> None:
        _log_batch(record)
        metrics.add_metric(name="BatchLatency", unit=MetricUnit.Milliseconds, value=record.duration_ms)
        if record.error is not None:
            code = record.error.error_code or type(record.error).__name__
            count_with_dimensions("ApiErrors", 1, {"error_code": code, "call": "batch_upgrade"})
        if self._on_batch is not None:
            self._on_batch(record)

    def _act(
        self, ports: Callable[[Target], GeminiDBPort], result: Plan, held: list[Outcome], context: RunContext
    ) -> tuple[list[Outcome], list[dict[str, Any]]]:
        allowed = result.rollout.max_errors - result.rollout.errors_before
        submitter = Submitter(
            ports,
            self._act_settings,
            ErrorBudget(allowed),
            clock=self._clock,
            remaining_ms=context.remaining_ms,
            on_batch=self._batch_done,
            sleep=self._sleep,
        )
        acted, raw = submitter.run(result.batches)
        return held + acted, raw

    def _publish(self, report: RunReport, request: RunRequest) -> None:
        parts = max(1, -(-len(report.outcomes) // OUTCOMES_PER_RECORD))
        summary = report.model_dump(mode="json", exclude={"outcomes", "upgrade_results"})
        logger.info("run_report", extra={"run_report": summary, "outcome_parts": parts})
        for part in range(parts):
            chunk = report.outcomes[part * OUTCOMES_PER_RECORD : (part + 1) * OUTCOMES_PER_RECORD]
            outcomes = [outcome.model_dump(mode="json", exclude_none=True) for outcome in chunk]
            logger.info("run_outcomes", extra={"part": part + 1, "parts": parts, "outcomes": outcomes})
        for kind, count in report.counts.items():
            metrics.add_metric(name=f"Instances{kind.capitalize()}", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="TargetErrors", unit=MetricUnit.Count, value=len(report.errors))
        for error in report.errors:
            count_with_dimensions("ApiErrors", 1, {"error_code": error.error_code or "unknown", "call": "observe"})
        groups = Counter(
            (o.outcome, o.engine or "unknown", o.reason or o.error_code or o.outcome) for o in report.outcomes
        )
        for (kind, engine, reason), count in sorted(groups.items()):
            count_with_dimensions("Outcomes", count, {"outcome": kind, "engine": engine, "reason": reason})
        self._notifier.deliver(report, request.notify)
