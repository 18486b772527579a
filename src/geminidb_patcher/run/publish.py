"""The publish step: the finished report as log records and EMF metrics, then to the notification channels."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.contract.report import EngineCompliance, RunReport
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.contract.tally import compliance_totals, current_share
from geminidb_patcher.notify.dispatch import Notifier
from geminidb_patcher.telemetry import count_with_dimensions, record_compliance, record_target_compliance

OUTCOMES_PER_RECORD = 200
"""Outcomes per ``run_outcomes`` log record, so every record stays far below CloudWatch's 256 KB event limit."""
JOBS_PER_RECORD = 300
"""Jobs per ``run_jobs`` log record (about 0.4 KB each at most: far below the 256 KB limit)."""


class Publisher:
    """Where a finished run's report goes, once: the structured log, the metrics, the channels."""

    def __init__(self, notifier: Notifier, logger: Logger, metrics: Metrics) -> None:
        self._notifier = notifier
        self._logger = logger
        self._metrics = metrics

    def publish(self, report: RunReport, request: RunRequest) -> None:
        """``run_report`` plus ``run_outcomes`` in parts, the counts as metrics, then the channels."""
        parts = max(1, -(-len(report.outcomes) // OUTCOMES_PER_RECORD))
        job_parts = -(-len(report.jobs) // JOBS_PER_RECORD)
        summary = report.model_dump(mode="json", exclude={"outcomes", "upgrade_results", "jobs"})
        summary["jobs_count"] = len(report.jobs)
        self._logger.info("run_report", extra={"run_report": summary, "outcome_parts": parts, "job_parts": job_parts})
        for part in range(parts):
            chunk = report.outcomes[part * OUTCOMES_PER_RECORD : (part + 1) * OUTCOMES_PER_RECORD]
            outcomes = [outcome.model_dump(mode="json", exclude_none=True) for outcome in chunk]
            self._logger.info("run_outcomes", extra={"part": part + 1, "parts": parts, "outcomes": outcomes})
        for part in range(job_parts):
            jobs = report.jobs[part * JOBS_PER_RECORD : (part + 1) * JOBS_PER_RECORD]
            dumped = [job.model_dump(mode="json", exclude_none=True) for job in jobs]
            self._logger.info("run_jobs", extra={"part": part + 1, "parts": job_parts, "jobs": dumped})
        for kind, count in report.counts.items():
            self._metrics.add_metric(name=f"Instances{kind.capitalize()}", unit=MetricUnit.Count, value=count)
        self._metrics.add_metric(name="TargetErrors", unit=MetricUnit.Count, value=len(report.errors))
        self._metrics.add_metric(name="RunsIncomplete", unit=MetricUnit.Count, value=0 if report.complete else 1)
        for error in report.errors:
            count_with_dimensions("ApiErrors", 1, {"error_code": error.error_code or "unknown", "call": "observe"})
        groups = Counter(
            (o.outcome, o.engine or "unknown", o.reason or o.error_code or o.outcome) for o in report.outcomes
        )
        for (kind, engine, reason), count in sorted(groups.items()):
            count_with_dimensions("Outcomes", count, {"outcome": kind, "engine": engine, "reason": reason})
        compliance_metrics(report.compliance, whole_fleet_read=not report.errors)
        self._notifier.deliver(report, request.notify)


def compliance_metrics(entries: Sequence[EngineCompliance], *, whole_fleet_read: bool = True) -> None:
    """Per engine over all targets, and for the whole fleet: current and behind counts, the compliance ratio;
    and each target's ratio.

    Four EMF records per engine and four for the fleet, dimension ``engine`` (``all`` for the fleet), plus one
    ``ComplianceRatio`` per target (dimension ``target``): at most one series per engine plus one, and one per
    target, whatever the fleet's size, so the trend costs a fixed amount. When a target could not be read, only the
    targets read get a record: a fleet or engine share over part of the fleet would read as the whole.
    """
    by_target = compliance_totals(entries, by=lambda entry: f"{entry.region}/{entry.project_id}")
    for target, tally in by_target.items():
        record_target_compliance(target, current_share(tally))
    if not whole_fleet_read:
        return
    for engine, tally in compliance_totals(entries, with_fleet=True).items():
        record_compliance(
            engine,
            current=tally["current"],
            behind=tally["behind"],
            behind_not_patchable=tally["stuck"],
            ratio=current_share(tally),
        )
