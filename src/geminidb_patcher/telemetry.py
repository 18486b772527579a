"""The structured logger and the EMF metrics, shared by every module of the function."""

from __future__ import annotations

import sys

from aws_lambda_powertools import Logger, Metrics

from geminidb_patcher.redaction import Redactor

SERVICE = "geminidb-patcher"
NAMESPACE = "GeminiDBPatcher"


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
