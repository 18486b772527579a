"""One run: for every target observe, plan and (in apply mode) act; then report and notify."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.huawei.errors import HuaweiError
from geminidb_patcher.models import (
    OUTCOME_KINDS,
    Outcome,
    RunReport,
    RunRequest,
    Target,
    TargetError,
    Trigger,
)
from geminidb_patcher.notify.base import Channel, NotificationError
from geminidb_patcher.reconcile.act import ActSettings, BatchRecord, Submitter, outcome_for
from geminidb_patcher.reconcile.observe import observe
from geminidb_patcher.reconcile.plan import Plan, plan
from geminidb_patcher.reconcile.ports import GeminiDBPort
from geminidb_patcher.telemetry import logger, metrics


class NoTargetError(ValueError):
    """The request names no target and the configuration has no default one."""


@dataclass(frozen=True)
class RunContext:
    """Who asked, and how much time is left."""

    run_id: str
    trigger: Trigger
    remaining_ms: Callable[[], int]


def _planned_and_skipped(target: Target, result: Plan) -> tuple[list[Outcome], list[Outcome]]:
    skipped = [
        outcome_for(target, skip.instance_id, skip.instance, outcome="skipped", reason=skip.reason, detail=skip.detail)
        for skip in result.skips
    ]
    planned = [
        outcome_for(
            target,
            instance.id,
            instance,
            outcome="planned",
            detail=f"Would be submitted in batch {number} of {len(result.batches)} ({batch.engine}).",
        )
        for number, batch in enumerate(result.batches, start=1)
        for instance in batch.instances
    ]
    return skipped, planned


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


class Patcher:
    """Runs requests against the targets; everything it touches comes in through the constructor."""

    def __init__(
        self,
        *,
        clients: Callable[[Target], GeminiDBPort],
        default_target: Target | None,
        act_settings: ActSettings,
        channels: list[Channel],
        clock: Callable[[], datetime],
    ) -> None:
        self._clients = clients
        self._default_target = default_target
        self._act_settings = act_settings
        self._channels = channels
        self._clock = clock

    def run(self, request: RunRequest, context: RunContext) -> RunReport:
        """Run ``request`` to the end; every instance in scope gets exactly one outcome."""
        started = self._clock()
        targets = request.targets or ([self._default_target] if self._default_target else [])
        if not targets:
            raise NoTargetError("no targets in the request and no default target configured")
        outcomes: list[Outcome] = []
        raw_results: list[dict[str, Any]] = []
        errors: list[TargetError] = []
        for target in dict.fromkeys(targets):
            try:
                target_outcomes, target_raw = self._run_target(target, request, context)
            except HuaweiError as error:
                logger.error(
                    "target_failed",
                    extra={
                        "region": target.region,
                        "project_id": target.project_id,
                        "error_code": error.error_code,
                        "error": str(error),
                    },
                )
                errors.append(
                    TargetError(
                        region=target.region,
                        project_id=target.project_id,
                        error_code=error.error_code,
                        error_message=str(error),
                    )
                )
                continue
            outcomes.extend(target_outcomes)
            raw_results.extend(target_raw)
        counts = Counter(outcome.outcome for outcome in outcomes)
        notes = []
        if request.instance_ids and len(set(request.instance_ids)) != len(request.instance_ids):
            notes.append("Duplicate instance_ids were removed.")
        report = RunReport(
            run_id=context.run_id,
            trigger=context.trigger,
            mode=request.mode,
            started_at=started,
            finished_at=self._clock(),
            targets=list(dict.fromkeys(targets)),
            counts={kind: counts.get(kind, 0) for kind in OUTCOME_KINDS},
            outcomes=outcomes,
            upgrade_results=raw_results,
            errors=errors,
            notes=notes,
        )
        self._publish(report)
        return report

    def _run_target(
        self, target: Target, request: RunRequest, context: RunContext
    ) -> tuple[list[Outcome], list[dict[str, Any]]]:
        port = self._clients(target)
        snapshot = observe(port, target, self._clock())
        result = plan(snapshot, request)
        skipped, planned = _planned_and_skipped(target, result)
        if request.mode == "plan":
            return skipped + planned, []
        submitter = Submitter(
            port,
            target,
            self._act_settings,
            clock=self._clock,
            remaining_ms=context.remaining_ms,
            on_batch=_log_batch,
        )
        acted, raw = submitter.run(result.batches)
        return skipped + acted, raw

    def _publish(self, report: RunReport) -> None:
        body = report.model_dump_json().encode()
        logger.info("run_report", extra={"run_report": report.model_dump(mode="json")})
        for kind, count in report.counts.items():
            metrics.add_metric(name=f"Instances{kind.capitalize()}", unit=MetricUnit.Count, value=count)
        metrics.add_metric(name="TargetErrors", unit=MetricUnit.Count, value=len(report.errors))
        for channel in self._channels:
            try:
                channel.send(report, body)
            except NotificationError as error:
                logger.warning("notification_failed", extra={"channel": channel.name, "error": str(error)})
                metrics.add_metric(name="NotificationFailures", unit=MetricUnit.Count, value=1)
            else:
                logger.info("notification_sent", extra={"channel": channel.name})
