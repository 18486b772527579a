"""The structured logger and the EMF metrics, shared by every module of the function."""

from __future__ import annotations

import os
import sys
import warnings

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from geminidb_patcher.redaction import RedactingStream, Redactor

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "geminidb-patcher"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "GeminiDBPatcher"
"""Powertools' own variables are the one source (template.yaml sets them); the defaults serve local runs."""


redactor = Redactor()
logger = Logger(service=SERVICE, stream=RedactingStream(redactor, lambda: sys.stdout), utc=True)  # type: ignore[arg-type]
logger.addFilter(redactor)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
warnings.filterwarnings("ignore", message="No application metrics to publish", category=UserWarning)
"""An invocation without metrics (a public ``GET /openapi.json``) is normal here; the warning would be the one
plain-text line among the JSON log records."""


def _one_record(name: str, unit: MetricUnit, value: float, dimensions: dict[str, str]) -> None:
    """One EMF record for one metric with its own dimensions (plus ``service``), flushed at once."""
    with single_metric(
        name=name, unit=unit, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE, **dimensions}
    ):
        pass


def count_with_dimensions(name: str, value: int, dimensions: dict[str, str]) -> None:
    """One EMF record for a count with its own dimensions (plus ``service``), flushed at once."""
    _one_record(name, MetricUnit.Count, value, dimensions)


def record_compliance(engine: str, *, current: int, behind: int, behind_not_patchable: int, ratio: float) -> None:
    """An engine's compliance (``engine`` = ``all`` for the fleet) as four EMF records, flushed at once."""
    _one_record("ComplianceRatio", MetricUnit.Percent, round(ratio * 100, 2), {"engine": engine})
    for name, count in (
        ("InstancesCurrent", current),
        ("InstancesBehind", behind),
        ("InstancesBehindNotPatchable", behind_not_patchable),
    ):
        _one_record(name, MetricUnit.Count, count, {"engine": engine})


def record_target_compliance(target: str, ratio: float) -> None:
    """One target's share of instances current (``region/project_id``, every engine), one EMF record."""
    _one_record("ComplianceRatio", MetricUnit.Percent, round(ratio * 100, 2), {"target": target})
