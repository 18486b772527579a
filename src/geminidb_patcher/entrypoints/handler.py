"""The Lambda entry points, one per SAM function: ``scheduled_handler`` and ``webhook_handler``.

Each is thin: init imports only the logger and the metrics, and the first invocation builds the one ``App``
(``entry``) that the function keeps for the container's life. No handler guesses what kind of event it got.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from geminidb_patcher.telemetry import logger, metrics

if TYPE_CHECKING:
    from geminidb_patcher.config.wiring import Wiring
    from geminidb_patcher.entrypoints.events import App

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Any object with the attributes of a Lambda context will do (the local runner passes its own)."""


def _entry_point(
    environ: Mapping[str, str], wiring: Wiring | None, answer: Callable[[App, dict[str, Any], Any], dict[str, Any]]
) -> Handler:
    """A Lambda handler with Powertools' logging context and metrics, answering with the lazily built ``App``."""

    @functools.cache
    def app() -> App:
        from geminidb_patcher.entrypoints.events import App

        return App(environ, wiring)

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return answer(app(), event, context)

    typed: Handler = handler
    return typed


def _direct(app: App, event: dict[str, Any], context: Any) -> dict[str, Any]:
    return app.direct(event, context)


def _webhook(app: App, event: dict[str, Any], context: Any) -> dict[str, Any]:
    logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
    resolved: dict[str, Any] = app.http_app.resolve(event, context)
    return resolved


def make_scheduled_handler(environ: Mapping[str, str], wiring: Wiring | None = None) -> Handler:
    """The scheduled function's handler: the event is a RunRequest, or an EventBridge schedule's envelope."""
    return _entry_point(environ, wiring, _direct)


def make_webhook_handler(environ: Mapping[str, str], wiring: Wiring | None = None) -> Handler:
    """The webhook function's handler: an API Gateway HTTP API (payload v2) event."""
    return _entry_point(environ, wiring, _webhook)


scheduled_handler = make_scheduled_handler(os.environ)
webhook_handler = make_webhook_handler(os.environ)
