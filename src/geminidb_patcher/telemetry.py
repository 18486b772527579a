"""The structured logger and the EMF metrics, shared by every module of the function."""

from __future__ import annotations

import os
import sys

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from geminidb_patcher.redaction import Redactor

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "geminidb-patcher"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "GeminiDBPatcher"
"""Powertools' own variables are the one source (template.yaml sets them); the defaults serve local runs."""


class _CurrentStdout:
    """Writes to whatever ``sys.stdout`` is at write time, so the demo and tests can capture records."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=SERVICE, stream=_CurrentStdout(), utc=True)  # type: ignore[arg-type]
redactor = Redactor()
logger.addFilter(redactor)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def count_with_dimensions(name: str, value: int, dimensions: dict[str, str]) -> None:
    """One EMF record for a count with its own dimensions (plus ``service``), flushed at once."""
    with single_metric(
        name=name, unit=MetricUnit.Count, value=value, namespace=NAMESPACE, default_dimensions={"service": SERVICE}
    ) as metric:
        for key, dimension in dimensions.items():
            metric.add_dimension(name=key, value=dimension)
