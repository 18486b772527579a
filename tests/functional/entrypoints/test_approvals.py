"""The approval round trip through the real handler, the real HTTP client and the simulator over loopback: the link
from the Slack message, a page that changes nothing however often it is fetched, one apply of exactly that plan."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from geminidb_local.environment import channel_environment, new_webhook_secret, simulator_environment
from geminidb_local.gateway_server import LocalGateway
from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator import Simulator, demo_fleet
from geminidb_patcher.contract.approval import seal, unseal
from geminidb_patcher.contract.secret_values import SecretValues
from tests.helpers import load_event

APPROVAL_SECRET = new_webhook_secret()


@pytest.fixture
def served() -> Iterator[tuple[Simulator, LocalGateway]]:
    """The demo fleet, every channel at its receiver, and the function behind a local HTTP API with approvals."""
    with Simulator(demo_fleet()) as simulator, LocalGateway() as gateway:
        environ = simulator_environment(simulator, webhook_secret=new_webhook_secret())
        environ.pop("NOTIFY_WEBHOOK_URL")
        environ |= channel_environment(simulator)
        environ |= {"APPROVAL_SECRET": APPROVAL_SECRET, "WEBHOOK_API_URL": gateway.base_url}
        gateway.handler = make_handler(environ)
        yield simulator, gateway


def upgrade_calls(simulator: Simulator) -> int:
    return sum(1 for e in simulator.exchanges if e.method == "POST" and "db-upgrade" in e.path)


def slack_link(messages: list[dict[str, Any]]) -> str:
    (link,) = [
        element["url"]
        for message in messages
        if message["kind"] == "slack"
        for block in message["body"]["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    return str(link)


def test_a_link_from_the_chat_message_applies_exactly_the_reviewed_plan_once(
    served: tuple[Simulator, LocalGateway], capsys: pytest.CaptureFixture[str]
) -> None:
    simulator, gateway = served
    plan = gateway.handler(load_event("schedule-plan.json"), LocalContext())
    planned = {o["instance_id"] for o in plan["outcomes"] if o["outcome"] == "planned"}
    link = slack_link(simulator.inbox)
    assert link.startswith(f"{gateway.base_url}/approvals/a1.") and plan["approval"]["token_id"]
    assert "url" not in plan["approval"]  # the answer (and the log) never carry the capability
    notified = len(simulator.inbox)
    jobs_before = {j["id"] for j in simulator.state.backend.snapshot()["jobs"]}

    # WHEN an unfurler, a mail scanner and a person open the page, and a HEAD probes it
    pages = [requests.get(link, timeout=30) for _ in range(3)]
    head = requests.head(link, timeout=30)

    # THEN nothing was sent to Huawei or to any channel, and each saw the plan with one button
    assert upgrade_calls(simulator) == 0 and len(simulator.inbox) == notified
    assert [p.status_code for p in pages] == [200, 200, 200] and head.status_code == 200
    assert all(p.text.count("Apply this plan") == 1 and plan["plan_id"] in p.text for p in pages)
    assert pages[0].headers["Cache-Control"] == "no-store" and pages[0].headers["X-Frame-Options"] == "DENY"

    # WHEN the person presses Apply
    applied = requests.post(link, data={}, headers={"Origin": gateway.base_url}, timeout=60)

    # THEN exactly the planned instances got one upgrade job each, and the report says how it was approved
    assert applied.status_code == 200 and "Plan applied" in applied.text
    jobs = [j for j in simulator.state.backend.snapshot()["jobs"] if j["name"] == "UpgradeDbVersion"]
    new_jobs = [j["instance"]["id"] for j in jobs if j["id"] not in jobs_before]
    assert sorted(new_jobs) == sorted(planned)
    report = next(m["body"] for m in simulator.inbox[notified:] if m["kind"] == "webhook")
    assert report["trigger"] == "approval" and report["mode"] == "apply"
    source = report["source"]
    assert (source["kind"], source["plan_id"], source["caller_ip"]) == ("approval_link", plan["plan_id"], "127.0.0.1")
    assert source["token_id"] == plan["approval"]["token_id"] and source["user_agent"].startswith("python-requests")
    slack_text = json.dumps([m["body"] for m in simulator.inbox[notified:] if m["kind"] == "slack"])
    assert f"for plan {plan['plan_id']}" in slack_text and "Applied from an approval link" in slack_text

    # WHEN it is pressed again: the plan has changed (those instances are upgrading), nothing is sent
    calls, messages = upgrade_calls(simulator), len(simulator.inbox)
    again = requests.post(link, data={}, headers={"Origin": gateway.base_url}, timeout=60)
    assert again.status_code == 409 and "The plan has changed" in again.text
    assert upgrade_calls(simulator) == calls and len(simulator.inbox) == messages

    # AND the token itself never reached a log line
    token = link.rsplit("/", 1)[1]
    assert token not in capsys.readouterr().out


def test_refused_links_reach_no_api_at_all(served: tuple[Simulator, LocalGateway]) -> None:
    simulator, gateway = served
    gateway.handler(load_event("schedule-plan.json"), LocalContext())
    link = slack_link(simulator.inbox)
    key = SecretValues(approval_secret=APPROVAL_SECRET).approval_keys()
    grant = unseal(link.rsplit("/", 1)[1], key, 0)
    expired = f"{gateway.base_url}/approvals/" + seal(type(grant)(grant.request, grant.plan_id, "t-x", 1, 2), key[0])
    seen = len(simulator.exchanges)

    answers = {
        "expired": requests.get(expired, timeout=30),
        "tampered": requests.get(link[:-4] + "AAAA", timeout=30),
        "cross-site": requests.post(link, headers={"Sec-Fetch-Site": "cross-site"}, timeout=30),
        "foreign origin": requests.post(link, headers={"Origin": "https://evil.example"}, timeout=30),
        "unknown path": requests.get(f"{gateway.base_url}/approvals/", timeout=30),
    }

    assert {name: answer.status_code for name, answer in answers.items()} == {
        "expired": 410,
        "tampered": 404,
        "cross-site": 403,
        "foreign origin": 403,
        "unknown path": 404,
    }
    assert len(simulator.exchanges) == seen  # not even a read of the fleet
    assert "text/html" in answers["tampered"].headers["Content-Type"]


def test_a_request_too_long_for_a_link_gets_none_and_the_digest_says_why(
    served: tuple[Simulator, LocalGateway],
) -> None:
    simulator, gateway = served
    ids = [item["id"] for item in simulator.fleet.instances] + [secrets.token_hex(16) + "in06" for _ in range(100)]
    event = {**load_event("schedule-plan.json"), "instance_ids": ids}

    plan = gateway.handler(event, LocalContext())

    assert plan["counts"]["planned"] and plan["approval"]["token_id"] is None
    assert "does not fit in an approval link" in plan["approval"]["unavailable"]
    slack = json.dumps([m["body"] for m in simulator.inbox if m["kind"] == "slack"])
    assert "No approval link: The request does not fit" in slack and '"actions"' not in slack


def test_the_openapi_document_describes_the_approval_pages(served: tuple[Simulator, LocalGateway]) -> None:
    _, gateway = served
    document = requests.get(f"{gateway.base_url}/openapi.json", timeout=30).json()
    pages = document["paths"]["/approvals/{token}"]
    assert set(pages) == {"get", "post"} and "/runs" in document["paths"]
    assert set(pages["post"]["responses"]) == {"200", "403", "404", "409", "410"}
    assert pages["get"]["responses"]["200"]["content"] == {"text/html": {"schema": {"type": "string"}}}
