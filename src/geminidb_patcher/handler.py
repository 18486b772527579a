"""The Lambda entry point for every trigger: schedule, direct invocation and the HTTP webhook.

Init imports only the logger and the metrics; everything else loads on the first invocation (see ``entry``).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from geminidb_patcher.telemetry import logger, metrics

if TYPE_CHECKING:
    from geminidb_patcher.entry import Engine
    from geminidb_patcher.runtime import Runtime

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Any object with the attributes of a Lambda context will do (the local runner passes its own)."""


def is_http_event(event: Mapping[str, Any]) -> bool:
    """API Gateway HTTP API payload v2 events carry ``version`` 2.0 and a ``requestContext``."""
    return event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict)


def make_handler(environ: Mapping[str, str], runtime: Runtime | None = None) -> Handler:
    """Build the entry point; the engine is built on first use and kept for the container's life."""

    @functools.cache
    def engine() -> Engine:
        from geminidb_patcher.entry import Engine

        return Engine(environ, runtime)

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        if is_http_event(event):
            logger.set_correlation_id(event["requestContext"].get("requestId"))
            resolved: dict[str, Any] = engine().http_app.resolve(event, context)
            return resolved
        return engine().direct(event, context)

    return handler


lambda_handler = make_handler(os.environ)
