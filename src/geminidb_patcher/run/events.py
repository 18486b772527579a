"""What a run says while it runs: a narrow interface that logs and counts, and returns nothing to the run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.act import BatchRecord
from geminidb_patcher.run.lease import Holder
from geminidb_patcher.telemetry import count_with_dimensions


class RunEvents(Protocol):
    """The moments of a run worth a log record as they happen; the report tells the rest, once, at the end."""

    def run_started(self, run_id: str, trigger: str, mode: str) -> None:
        """The run began."""
        ...

    def target_failed(self, target: Target, error: UpstreamError) -> None:
        """A target could not be observed (or its lease could not be taken)."""
        ...

    def lease_busy(self, target: Target, holder: Holder) -> None:
        """Another run holds a target's apply lease."""
        ...

    def plan_changed(self, expected: str, actual: str | None) -> None:
        """A pinned apply found another plan."""
        ...

    def batch_done(self, record: BatchRecord) -> None:
        """One batch call ended."""
        ...


class LogEvents:
    """``RunEvents`` as structured log records and EMF metrics."""

    def __init__(self, logger: Logger, metrics: Metrics) -> None:
        self._logger = logger
        self._metrics = metrics

    def run_started(self, run_id: str, trigger: str, mode: str) -> None:
        """Every log record of the run carries its id, trigger and mode."""
        self._logger.append_keys(run_id=run_id, trigger=trigger, mode=mode)

    def target_failed(self, target: Target, error: UpstreamError) -> None:
        """``target_failed``, with the error's code and message (the report carries it too)."""
        self._logger.error(
            "target_failed",
            extra={
                "region": target.region,
                "project_id": target.project_id,
                "error_code": error.error_code,
                "error": str(error),
            },
        )

    def lease_busy(self, target: Target, holder: Holder) -> None:
        """``apply_lease_busy`` naming the holder, and the ``ApplyLeaseBusy`` metric."""
        self._logger.warning(
            "apply_lease_busy",
            extra={
                "region": target.region,
                "project_id": target.project_id,
                "holder_run_id": holder.run_id,
                "holder_trigger": holder.trigger,
                "holder_since": holder.since.isoformat(),
            },
        )
        self._metrics.add_metric(name="ApplyLeaseBusy", unit=MetricUnit.Count, value=1)

    def plan_changed(self, expected: str, actual: str | None) -> None:
        """``plan_changed`` and the ``PlanChanged`` metric."""
        self._logger.error("plan_changed", extra={"expected_plan_id": expected, "plan_id": actual})
        self._metrics.add_metric(name="PlanChanged", unit=MetricUnit.Count, value=1)

    def batch_done(self, record: BatchRecord) -> None:
        """One ``upgrade_batch`` record and its latency; API errors by code."""
        self._logger.info(
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
        self._metrics.add_metric(name="BatchLatency", unit=MetricUnit.Milliseconds, value=record.duration_ms)
        if record.error is not None:
            code = record.error.error_code or type(record.error).__name__
            count_with_dimensions("ApiErrors", 1, {"error_code": code, "call": "batch_upgrade"})


class WithProgress(LogEvents):
    """``LogEvents`` that also hand every batch to ``on_batch`` (the CLI's progress line)."""

    def __init__(self, logger: Logger, metrics: Metrics, on_batch: Callable[[BatchRecord], None]) -> None:
        super().__init__(logger, metrics)
        self._on_batch = on_batch

    def batch_done(self, record: BatchRecord) -> None:
        """Log the batch, then tell ``on_batch``."""
        super().batch_done(record)
        self._on_batch(record)
