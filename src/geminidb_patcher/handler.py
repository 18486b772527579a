"""The Lambda entry point for every trigger: schedule, direct invocation and the HTTP webhook."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel, ConfigDict, ValidationError

from geminidb_patcher.http_api import WebhookApi
from geminidb_patcher.models import (
    RequestLimitError,
    RunReport,
    RunRequest,
    Trigger,
    describe_problems,
    enforce_limits,
)
from geminidb_patcher.runtime import Runtime
from geminidb_patcher.service import RunContext
from geminidb_patcher.telemetry import logger, metrics

SCHEDULER_KEY = "scheduler"
Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
"""Any object with the attributes of a Lambda context will do (the local runner passes its own)."""


class InvalidRunRequestError(ValueError):
    """A scheduled or direct event is not a valid ``RunRequest``; nothing was done."""


class SchedulerInfo(BaseModel):
    """Context attributes EventBridge Scheduler can fill into the schedule's Input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: str | None = None
    scheduled_time: str | None = None
    schedule_arn: str | None = None
    attempt: str | None = None


def is_http_event(event: Mapping[str, Any]) -> bool:
    """API Gateway HTTP API payload v2 events carry ``version`` 2.0 and a ``requestContext``."""
    return event.get("version") == "2.0" and isinstance(event.get("requestContext"), dict)


def _parse_direct(event: dict[str, Any]) -> tuple[RunRequest, SchedulerInfo | None]:
    fields = dict(event)
    info = fields.pop(SCHEDULER_KEY, None)
    try:
        scheduler = SchedulerInfo.model_validate(info) if info is not None else None
        return RunRequest.model_validate(fields), scheduler
    except ValidationError as exc:
        problems = describe_problems(exc.errors(include_input=False, include_url=False), whole="event")
        logger.error("invalid_run_request", extra={"problems": problems})
        summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        raise InvalidRunRequestError(f"invalid RunRequest: {summary}") from None


def make_handler(environ: Mapping[str, str], runtime: Runtime | None = None) -> Handler:
    """Build the entry point; the runtime is built on first use and kept for the container's life."""

    @functools.cache
    def current_runtime() -> Runtime:
        return runtime or Runtime.from_environ(environ)

    def run(request: RunRequest, context: RunContext) -> RunReport:
        runtime = current_runtime()
        settings = runtime.settings
        enforce_limits(request, max_instance_ids=settings.max_instance_ids, max_targets=settings.max_targets)
        return runtime.patcher().run(request, context)

    @functools.cache
    def http_app() -> WebhookApi:
        settings = current_runtime().settings
        return WebhookApi(
            run,
            lambda: current_runtime().secret_values().webhook_secrets(),
            tolerance=settings.webhook_tolerance_seconds,
            auth_mode=settings.webhook_auth,
            max_body_bytes=settings.max_body_bytes,
        )

    @metrics.log_metrics
    @logger.inject_lambda_context(clear_state=True)
    def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
        if is_http_event(event):
            logger.set_correlation_id(event["requestContext"].get("requestId"))
            return http_app().resolve(event, context)
        request, scheduler = _parse_direct(event)
        logger.set_correlation_id((scheduler and scheduler.execution_id) or context.aws_request_id)
        trigger: Trigger = "schedule" if scheduler is not None else "direct"
        try:
            report = run(request, RunContext(context.aws_request_id, trigger, context.get_remaining_time_in_millis))
        except RequestLimitError as exc:
            logger.error("invalid_run_request", extra={"problems": exc.problems})
            raise InvalidRunRequestError(f"invalid RunRequest: {exc}") from None
        return report.model_dump(mode="json")

    return handler


lambda_handler = make_handler(os.environ)
