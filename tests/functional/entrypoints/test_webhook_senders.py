"""Webhook senders as the reference libraries sign, and configuration checked before anything is sent."""

from __future__ import annotations

import base64
import json
import os
import random
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, http_api_event, make_handler, signed_run_event
from geminidb_local.simulator import Simulator
from tests.helpers import handler_on, make_instance

SECRET = new_webhook_secret()


def fleet(count: int = 3) -> dict[str, Any]:
    rng = random.Random(5)
    return {"instances": [make_instance(rng) for _ in range(count)]}


def signed_event(secret: str, body: bytes, *, signature: str | None = None, msg_id: str = "msg_1") -> dict[str, Any]:
    stamp = int(time.time())
    headers = Webhook(secret).sign(msg_id, datetime.fromtimestamp(stamp, UTC), body.decode())
    event = http_api_event(
        "POST",
        "/runs",
        body,
        {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signature.format(valid=headers) if signature else headers,
        },
    )
    return event


@pytest.fixture
def simulator() -> Any:
    with Simulator(fleet()) as sim:
        yield sim


def test_an_unpadded_secret_signed_by_the_reference_library_is_accepted(simulator: Simulator) -> None:
    key = base64.b64encode(os.urandom(32)).decode().rstrip("=")  # 43 characters, no padding
    unpadded = f"whsec_{key}"
    handler = make_handler(simulator_environment(simulator, webhook_secret=unpadded))
    answer = handler(signed_event(unpadded, b'{"mode": "plan"}'), LocalContext())
    assert answer["statusCode"] == 200


def test_a_valid_signature_anywhere_in_the_header_is_accepted(simulator: Simulator) -> None:
    handler = make_handler(simulator_environment(simulator, webhook_secret=SECRET))
    listed = "v1,AAAA v2,BBBB v1a,CCCC " * 5 + "{valid}"
    answer = handler(signed_event(SECRET, b'{"mode": "plan"}', signature=listed), LocalContext())
    assert answer["statusCode"] == 200
    too_many = "v1,AAAA " * 40 + "{valid}"
    refused = handler(signed_event(SECRET, b'{"mode": "plan"}', signature=too_many, msg_id="m2"), LocalContext())
    assert refused["statusCode"] == 401


def test_a_body_with_a_duplicate_key_is_refused_and_nothing_runs(simulator: Simulator) -> None:
    handler = make_handler(simulator_environment(simulator, webhook_secret=SECRET))
    answer = handler(signed_run_event(SECRET, b'{"mode": "plan", "mode": "apply"}'), LocalContext())
    assert answer["statusCode"] == 422 and json.loads(answer["body"])["error"] == "duplicate_key"
    assert not [e for e in simulator.exchanges if e.route == "POST /instances/db-upgrade"]


def test_a_signed_get_of_runs_is_405_with_allow(simulator: Simulator) -> None:
    handler = make_handler(simulator_environment(simulator, webhook_secret=SECRET))
    event = signed_run_event(SECRET, b"")
    event["requestContext"]["http"]["method"] = "GET"
    answer = handler(event, LocalContext())
    assert answer["statusCode"] == 405 and answer["headers"]["Allow"] == "POST"


def test_a_sender_retrying_after_notifications_failed_is_told_the_id_was_used(simulator: Simulator) -> None:
    environ = simulator_environment(simulator, webhook_secret=SECRET) | {"NOTIFY_FAILURE_FAILS_RUN": "true"}
    environ["NOTIFY_WEBHOOK_URL"] = "http://127.0.0.1:9/unreachable"
    handler = make_handler(environ)
    event = signed_run_event(SECRET, b'{"mode": "plan"}', msg_id="msg_retry")
    assert handler(event, LocalContext())["statusCode"] == 502
    again = handler(signed_run_event(SECRET, b'{"mode": "plan"}', msg_id="msg_retry"), LocalContext())
    assert again["statusCode"] == 409 and "already accepted" in json.loads(again["body"])["message"]


@pytest.mark.parametrize("malformed", ["not-base64!!", "whsec_"])
def test_a_malformed_channel_secret_disables_that_channel_before_anything_is_sent(
    simulator: Simulator, malformed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = simulator_environment(simulator, webhook_secret=SECRET)
    handler = handler_on(
        simulator,
        SECRET,
        NOTIFY_WEBHOOK_URL=environ["NOTIFY_WEBHOOK_URL"],
        NOTIFY_WEBHOOK_SECRET=malformed,
    )
    report = handler({"mode": "apply", "window": "anytime", "max_in_flight": "100%"}, LocalContext())
    assert report["counts"]["submitted"] == 3  # the run went on, and did not fail after submitting
    records = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    invalid = [r for r in records if r.get("message") == "notification_channel_invalid"]
    assert [r["channel"] for r in invalid] == ["webhook"] and "disabled" in invalid[0]["problem"]
    assert malformed not in json.dumps(invalid) or malformed == "whsec_"
    assert simulator.inbox == []
