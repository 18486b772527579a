"""Every file in events/ parses, or fails naming the field, as labelled."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from geminidb_local.lambda_shim import is_http_event
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.entrypoints.events import parse_direct
from geminidb_patcher.errors import InvalidRunRequestError
from tests.helpers import EVENTS, load_event

VALID_DIRECT = [
    "schedule-plan.json",
    "schedule-apply.json",
    "schedule-rollout.json",
    "schedule-eventbridge-scheduler.json",
    "schedule-eventbridge-rule.json",
    "direct-apply-selector.json",
]
INVALID_DIRECT = {
    "schedule-unknown-field.json": "dry_run",
    "schedule-bad-mode.json": "mode",
    "schedule-ids-and-selector.json": "not both",
    "direct-bad-instance-id.json": "instance_ids.0",
    "direct-bad-engine.json": "selector.engines.0",
    "direct-bad-target.json": "targets.0.project_id",
    "schedule-bad-window.json": "window",
}
HTTP_EVENTS = [
    "webhook-run.json",
    "webhook-openapi.json",
    "invalid/webhook-bad-body.json",
    "invalid/webhook-unsigned.json",
]


def test_every_event_file_is_covered_by_a_test() -> None:
    files = {str(p.relative_to(EVENTS)) for p in EVENTS.rglob("*.json")}
    covered = set(VALID_DIRECT) | {f"invalid/{n}" for n in INVALID_DIRECT} | set(HTTP_EVENTS)
    assert files == covered


@pytest.mark.parametrize("name", VALID_DIRECT)
def test_direct_events_parse(name: str) -> None:
    request, scheduler = parse_direct(load_event(name))
    assert request.mode in ("plan", "apply")
    assert (scheduler is not None) == name.startswith("schedule-")


@pytest.mark.parametrize(("name", "field"), INVALID_DIRECT.items())
def test_invalid_direct_events_fail_naming_the_field(name: str, field: str) -> None:
    with pytest.raises(InvalidRunRequestError, match=field.replace(".", r"\.")):
        parse_direct(load_event(f"invalid/{name}"))


@pytest.mark.parametrize("name", HTTP_EVENTS)
def test_http_events_are_recognised_as_http(name: str) -> None:
    assert is_http_event(load_event(name))


def test_webhook_sample_body_is_a_run_request() -> None:
    assert RunRequest.model_validate(json.loads(load_event("webhook-run.json")["body"])).mode == "plan"


def test_run_request_caps_instance_ids() -> None:
    ids = [f"{i:032x}in06" for i in range(1001)]
    with pytest.raises(ValidationError, match="instance_ids"):
        RunRequest(instance_ids=ids)


@pytest.mark.parametrize(
    ("name", "kind", "arn"),
    [
        ("schedule-eventbridge-scheduler.json", "aws.scheduler", "schedule/default/geminidb-patcher-nightly"),
        ("schedule-eventbridge-rule.json", "aws.events", "rule/geminidb-patcher-every-30-min"),
    ],
)
def test_eventbridge_envelopes_without_input_are_scheduled_runs(name: str, kind: str, arn: str) -> None:
    event = load_event(name)
    request, source = parse_direct(event)
    assert request == RunRequest()
    assert source is not None and source.kind == kind and source.event_id == event["id"]
    assert source.schedule_arn is not None and source.schedule_arn.endswith(arn)


@pytest.mark.parametrize(
    ("detail", "field"),
    [('{"mode": "apply", "dry_run": true}', "dry_run"), ("not json", "detail"), ("[1]", "detail"), (5, "detail")],
)
def test_an_envelope_detail_that_is_not_a_run_request_names_the_problem(detail: object, field: str) -> None:
    event = {**load_event("schedule-eventbridge-rule.json"), "detail": detail}
    with pytest.raises(InvalidRunRequestError, match=field):
        parse_direct(event)
