"""What the entry point does once an event arrives: parse it, build the runtime, run, answer.

Kept apart from ``handler`` so that the Lambda init phase imports only the logger and metrics; the models,
the runtime and (for webhook calls) the HTTP resolver load on the first invocation that needs them.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, ValidationError

from geminidb_patcher.handler import InvalidRunRequestError
from geminidb_patcher.models import (
    RequestLimitError,
    RunReport,
    RunRequest,
    Trigger,
    enforce_limits,
)
from geminidb_patcher.problems import describe_problems
from geminidb_patcher.runtime import Runtime
from geminidb_patcher.service import RunContext
from geminidb_patcher.telemetry import logger, metrics

if TYPE_CHECKING:
    from geminidb_patcher.http_api import WebhookApi

SCHEDULER_KEY = "scheduler"


class SchedulerInfo(BaseModel):
    """Context attributes EventBridge Scheduler can fill into the schedule's Input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: str | None = None
    scheduled_time: str | None = None
    schedule_arn: str | None = None
    attempt: str | None = None


def parse_direct(event: dict[str, Any]) -> tuple[RunRequest, SchedulerInfo | None]:
    """A scheduled or direct event as a ``RunRequest``; ``InvalidRunRequestError`` names every problem."""
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


class Engine:
    """The runtime and the webhook resolver of one container, built on first use."""

    def __init__(self, environ: Mapping[str, str], runtime: Runtime | None = None) -> None:
        self._environ = environ
        self._runtime = runtime

    @functools.cached_property
    def runtime(self) -> Runtime:
        """Settings, secrets, HTTP session and clients, validated once per container."""
        return self._runtime or Runtime.from_environ(self._environ)

    def run(self, request: RunRequest, context: RunContext) -> RunReport:
        """One run, within this deployment's request limits."""
        settings = self.runtime.settings
        enforce_limits(request, max_instance_ids=settings.max_instance_ids, max_targets=settings.max_targets)
        return self.runtime.patcher().run(request, context)

    @functools.cached_property
    def http_app(self) -> WebhookApi:
        """The webhook resolver; only webhook calls load it."""
        from geminidb_patcher.http_api import WebhookApi

        settings = self.runtime.settings
        return WebhookApi(
            self.run,
            self.webhook_secrets,
            tolerance=settings.webhook_tolerance_seconds,
            auth_mode=settings.webhook_auth,
            max_body_bytes=settings.max_body_bytes,
        )

    def webhook_secrets(self) -> list[str]:
        """The well-formed webhook secrets; a malformed one is logged by position (never its value) and skipped."""
        values = self.runtime.secret_values()
        malformed, configured = values.malformed_webhook_secrets()
        if malformed:
            logger.error(
                "webhook_secret_invalid",
                extra={
                    "positions": malformed,
                    "configured": configured,
                    "problem": "not 'whsec_' followed by base64; requests signed with it are refused",
                },
            )
            metrics.add_metric(name="ConfigurationErrors", unit=MetricUnit.Count, value=1)
        return values.webhook_secrets()

    def direct(self, event: dict[str, Any], context: Any) -> dict[str, Any]:
        """A scheduled or direct invocation: the report as JSON."""
        request, scheduler = parse_direct(event)
        logger.set_correlation_id((scheduler and scheduler.execution_id) or context.aws_request_id)
        trigger: Trigger = "schedule" if scheduler is not None else "direct"
        try:
            report = self.run(
                request, RunContext(context.aws_request_id, trigger, context.get_remaining_time_in_millis)
            )
        except RequestLimitError as exc:
            logger.error("invalid_run_request", extra={"problems": exc.problems})
            raise InvalidRunRequestError(f"invalid RunRequest: {exc}") from None
        return report.model_dump(mode="json")
