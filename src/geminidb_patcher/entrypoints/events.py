"""The scheduled function's events: a RunRequest, with or without EventBridge Scheduler's context, or a schedule
rule's envelope; parsed, run, answered.

Kept apart from ``handler`` so that the Lambda init phase imports only the logger and metrics; the models and the
wiring load on the first invocation.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.problems import describe_problems
from geminidb_patcher.contract.report import TriggerSource
from geminidb_patcher.contract.request import RunRequest, Trigger
from geminidb_patcher.errors import InvalidRunRequestError, RequestLimitError
from geminidb_patcher.run.patcher import LambdaContext, RunContext
from geminidb_patcher.telemetry import logger

SCHEDULER_KEY = "scheduler"


class SchedulerInfo(BaseModel):
    """Context attributes EventBridge Scheduler can fill into the schedule's Input."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    execution_id: str | None = None
    scheduled_time: str | None = None
    schedule_arn: str | None = None
    attempt: str | None = None


SCHEDULED_EVENT_SOURCES = frozenset({"aws.scheduler", "aws.events"})
"""EventBridge Scheduler's envelope (a schedule without ``Input``) and a classic EventBridge schedule rule's."""


def _invalid(problems: list[dict[str, str]]) -> InvalidRunRequestError:
    logger.error("invalid_run_request", extra={"problems": problems})
    summary = "; ".join(f"{p['field']}: {p['message']}" for p in problems)
    return InvalidRunRequestError(f"invalid RunRequest: {summary}")


def is_scheduled_envelope(event: Mapping[str, Any]) -> bool:
    """An EventBridge ``Scheduled Event`` as AWS sends it when no ``Input`` replaces it."""
    return (
        event.get("source") in SCHEDULED_EVENT_SOURCES
        and event.get("detail-type") == "Scheduled Event"
        and "detail" in event
    )


def _from_envelope(event: Mapping[str, Any]) -> tuple[dict[str, Any], TriggerSource]:
    """The envelope's ``detail`` (an object, or a JSON string of one) and where it came from."""
    detail = event["detail"]
    if isinstance(detail, str):
        try:
            detail = json.loads(detail) if detail.strip() else {}
        except ValueError:
            raise _invalid([{"field": "detail", "rule": "json", "message": "is not a JSON object"}]) from None
    if not isinstance(detail, dict):
        raise _invalid([{"field": "detail", "rule": "type", "message": "must be a JSON object (the RunRequest)"}])
    resources = event.get("resources")
    arn = resources[0] if isinstance(resources, list) and resources and isinstance(resources[0], str) else None
    source = TriggerSource(
        kind=str(event["source"]),
        event_id=str(event["id"]) if event.get("id") is not None else None,
        schedule_arn=arn,
        scheduled_time=str(event["time"]) if event.get("time") is not None else None,
    )
    return detail, source


def parse_direct(event: dict[str, Any]) -> tuple[RunRequest, TriggerSource | None]:
    """A scheduled or direct event as a ``RunRequest`` and, for a schedule, where it came from.

    Three shapes: the RunRequest itself (a direct invocation, or a schedule's ``Input``) with an optional
    ``scheduler`` object of EventBridge Scheduler's context attributes, or an EventBridge ``Scheduled Event``
    envelope whose ``detail`` is the RunRequest. ``InvalidRunRequestError`` names every problem.
    """
    try:
        if is_scheduled_envelope(event):
            fields, source = _from_envelope(event)
            return RunRequest.model_validate(fields), source
        fields = dict(event)
        info = fields.pop(SCHEDULER_KEY, None)
        scheduler = SchedulerInfo.model_validate(info) if info is not None else None
        request = RunRequest.model_validate(fields)
    except ValidationError as exc:
        raise _invalid(describe_problems(exc.errors(include_input=False, include_url=False), whole="event")) from None
    if scheduler is None:
        return request, None
    return request, TriggerSource(
        kind="aws.scheduler",
        event_id=scheduler.execution_id,
        schedule_arn=scheduler.schedule_arn,
        scheduled_time=scheduler.scheduled_time,
    )


def run_scheduled(wiring: Wiring, event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    """A scheduled or direct invocation: parse the event, run it, answer with the report as JSON."""
    request, source = parse_direct(event)
    logger.set_correlation_id((source and source.event_id) or context.aws_request_id)
    trigger: Trigger = "schedule" if source is not None else "direct"
    try:
        report = wiring.patcher().run(request, RunContext.for_invocation(context, trigger, source))
    except RequestLimitError as exc:
        logger.error("invalid_run_request", extra={"problems": exc.problems})
        raise InvalidRunRequestError(f"invalid RunRequest: {exc}") from None
    return report.as_answer()
