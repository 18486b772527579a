"""Webhook edges: every spelling of a route is authenticated, retries after a 4xx are not replays, media types."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext, http_api_event, signed_run_event
from geminidb_local.simulator import Simulator
from geminidb_patcher.entrypoints.handler import Handler
from tests.helpers import fleet_document, handler_on

SECRET = new_webhook_secret()
APPLY = json.dumps({"mode": "apply", "window": "anytime", "max_in_flight": "100%"}).encode()


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(fleet_document(6)) as running:
        yield running


def handler_for(sim: Simulator, secret: str = SECRET) -> Handler:
    return handler_on(sim, secret)


def upgrade_posts(sim: Simulator) -> int:
    return sum(1 for e in sim.exchanges if e.route == "POST /instances/db-upgrade")


def staged(event: dict[str, Any], stage: str) -> dict[str, Any]:
    event["rawPath"] = f"/{stage}{event['rawPath']}"
    event["requestContext"]["stage"] = stage
    return event


@pytest.mark.parametrize(
    "spell",
    [
        pytest.param(lambda e: staged(e, "prod"), id="stage prefix"),
        pytest.param(lambda e: {**e, "requestContext": {**e["requestContext"], "http": {"method": "post"}}}, id="post"),
        pytest.param(lambda e: staged({**e, "requestContext": {**e["requestContext"]}}, "v1"), id="stage v1"),
    ],
)
def test_an_unsigned_apply_under_another_spelling_of_the_route_is_refused(sim: Simulator, spell: Any) -> None:
    event = spell(http_api_event("POST", "/runs", APPLY, {"content-type": "application/json"}))
    answer = handler_for(sim)(event, LocalContext())
    assert answer["statusCode"] == 401 and upgrade_posts(sim) == 0


def test_a_signed_apply_under_a_named_stage_and_lower_case_method_runs(sim: Simulator) -> None:
    event = staged(signed_run_event(SECRET, APPLY), "prod")
    event["requestContext"]["http"]["method"] = "post"
    answer = handler_for(sim)(event, LocalContext())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["counts"]["submitted"] == 6


def test_only_the_openapi_document_is_public(sim: Simulator) -> None:
    handler = handler_for(sim)
    assert handler(http_api_event("GET", "/openapi.json"), LocalContext())["statusCode"] == 200
    for method, path in (("GET", "/runs"), ("HEAD", "/openapi.json"), ("DELETE", "/runs"), ("GET", "/admin")):
        assert handler(http_api_event(method, path), LocalContext())["statusCode"] == 401, (method, path)


@pytest.mark.parametrize(
    ("first", "status"),
    [
        pytest.param({"content_type": "text/plain"}, 415, id="415"),
        pytest.param({"body": b"{not json"}, 422, id="invalid json"),
        pytest.param({"body": b'{"mode": "apply", "max_in_flight": "lots"}'}, 422, id="invalid request"),
    ],
)
def test_a_retry_after_a_4xx_with_the_same_id_is_not_a_replay(
    sim: Simulator, first: dict[str, Any], status: int
) -> None:
    handler = handler_for(sim)
    body = first.pop("body", APPLY)
    refused = handler(signed_run_event(SECRET, body, msg_id="msg_retry", **first), LocalContext())
    assert refused["statusCode"] == status
    assert upgrade_posts(sim) == 0
    fixed = handler(signed_run_event(SECRET, APPLY, msg_id="msg_retry"), LocalContext())
    assert fixed["statusCode"] == 200 and json.loads(fixed["body"])["counts"]["submitted"] == 6
    sent = upgrade_posts(sim)
    replay = handler(signed_run_event(SECRET, APPLY, msg_id="msg_retry"), LocalContext())
    assert replay["statusCode"] == 409 and upgrade_posts(sim) == sent


@pytest.mark.parametrize("content_type", ["APPLICATION/JSON", "Application/Json; charset=UTF-8"])
def test_media_types_are_case_insensitive(sim: Simulator, content_type: str) -> None:
    body = b'{"mode": "plan"}'
    answer = handler_for(sim)(signed_run_event(SECRET, body, content_type=content_type), LocalContext())
    assert answer["statusCode"] == 200, answer["body"]


def test_a_byte_order_mark_before_the_json_is_accepted(sim: Simulator) -> None:
    answer = handler_for(sim)(signed_run_event(SECRET, b'\xef\xbb\xbf{"mode": "plan"}'), LocalContext())
    assert answer["statusCode"] == 200, answer["body"]
    assert json.loads(answer["body"])["mode"] == "plan"


def test_one_malformed_secret_does_not_break_the_others(sim: Simulator, capsys: pytest.CaptureFixture[str]) -> None:
    newer = new_webhook_secret()
    handler = handler_for(sim, f"whsec_!!bad {SECRET} {newer}")
    for secret in (SECRET, newer):
        answer = handler(signed_run_event(secret, b'{"mode": "plan"}'), LocalContext())
        assert answer["statusCode"] == 200
    logged = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    problems = [r for r in logged if r.get("message") == "webhook_secret_invalid"]
    assert problems and problems[0]["positions"] == [1] and problems[0]["configured"] == 3
    assert "!!bad" not in json.dumps(logged)


def test_an_extreme_blackout_is_a_422_naming_the_field_not_a_crash(sim: Simulator) -> None:
    body = json.dumps({"blackouts": [{"start": "2030-01-01T00:00:00Z", "end": "9999-12-31T23:59:59-23:59"}]})
    answer = handler_for(sim)(signed_run_event(SECRET, body.encode()), LocalContext())
    assert answer["statusCode"] == 422
    (problem,) = json.loads(answer["body"])["problems"]
    assert problem["field"] == "blackouts.0.end" and "must lie between" in problem["message"]
