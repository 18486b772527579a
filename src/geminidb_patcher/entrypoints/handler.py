"""The Lambda entry points, one per SAM function: ``scheduled_handler`` and ``webhook_handler``.

Each is thin: init imports only the logger and the metrics; the first invocation builds the wiring (and, for the
webhook, its API) that the function keeps for the container's life. No handler guesses what kind of event it got.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from geminidb_patcher.telemetry import logger, metrics

if TYPE_CHECKING:
    from geminidb_patcher.config.wiring import Wiring
    from geminidb_patcher.entrypoints.webhook import WebhookApi

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Any object with the attributes of a Lambda context will do (the local runner passes its own)."""


def _entry_point(answer: Callable[[dict[str, Any], Any], dict[str, Any]]) -> Handler:
    """A Lambda handler with Powertools' logging context and metrics around ``answer``."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return answer(event, context)

    typed: Handler = handler
    return typed


def _wiring(environ: Mapping[str, str], given: Wiring | None) -> Callable[[], Wiring]:
    """The container's wiring, validated on first use and kept for the container's life."""

    @functools.cache
    def wired() -> Wiring:
        from geminidb_patcher.config.wiring import Wiring

        return given or Wiring.from_environ(environ)

    return wired


def make_scheduled_handler(environ: Mapping[str, str], wiring: Wiring | None = None) -> Handler:
    """The scheduled function's handler: the event is a RunRequest, or an EventBridge schedule's envelope."""
    wired = _wiring(environ, wiring)

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        from geminidb_patcher.entrypoints.events import run_scheduled

        return run_scheduled(wired(), event, context)

    return _entry_point(answer)


def make_webhook_handler(environ: Mapping[str, str], wiring: Wiring | None = None) -> Handler:
    """The webhook function's handler: an API Gateway HTTP API (payload v2) event."""
    wired = _wiring(environ, wiring)

    @functools.cache
    def api() -> WebhookApi:
        from geminidb_patcher.entrypoints.webhook import WebhookApi

        return WebhookApi.for_wiring(wired())

    def answer(event: dict[str, Any], context: Any) -> dict[str, Any]:
        logger.set_correlation_id((event.get("requestContext") or {}).get("requestId"))
        resolved: dict[str, Any] = api().resolve(event, context)
        return resolved

    return _entry_point(answer)


scheduled_handler = make_scheduled_handler(os.environ)
webhook_handler = make_webhook_handler(os.environ)
