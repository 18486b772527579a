"""Every channel through the real handler, delivered to receivers that check what the vendor checks."""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook

from geminidb_local.environment import channel_environment, new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, make_handler, signed_run_event
from geminidb_local.simulator import Simulator
from geminidb_patcher.notify.dispatch import NotificationsFailedError
from tests.helpers import make_instance, secrets_extension

SECRET = new_webhook_secret()
FEISHU_SECRET = "feishu-signing-secret-0001"
DINGTALK_SECRET = "SEC0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"


def fleet(count: int, seed: int = 1) -> dict[str, Any]:
    rng = random.Random(seed)
    engines = ["cassandra", "influxdb", "redis"]
    return {"instances": [make_instance(rng, engines[i % 3], name=f"db-{i:04d}") for i in range(count)]}


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(fleet(12)) as running:
        yield running


def channels_env(sim: Simulator, **overrides: Any) -> dict[str, str]:
    """All seven channel types pointed at the simulator's receivers, with fixed signing secrets."""
    environ = simulator_environment(sim, webhook_secret=SECRET)
    environ.pop("NOTIFY_WEBHOOK_URL")
    environ |= channel_environment(sim)
    environ |= {"NOTIFY_FEISHU_SECRET": FEISHU_SECRET, "NOTIFY_DING_SECRET": DINGTALK_SECRET}
    sim.state.receivers.secrets.update({"feishu-ops": FEISHU_SECRET, "ding-ops": DINGTALK_SECRET})
    if "channels" in overrides:
        environ["NOTIFY_CHANNELS"] = json.dumps(overrides.pop("channels"))
    return environ | overrides


def run(environ: dict[str, str], event: dict[str, Any]) -> tuple[Any, str]:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = make_handler(environ)(event, LocalContext())
    return result, out.getvalue()


def log_records(output: str, message: str) -> list[dict[str, Any]]:
    return [
        r for line in output.splitlines() if line.startswith("{") and (r := json.loads(line)).get("message") == message
    ]


def test_every_channel_type_is_accepted_by_its_receiver(sim: Simulator) -> None:
    # WHEN an apply submits instances, with every channel type configured
    environ = channels_env(sim)
    report, output = run(environ, {"mode": "apply", "max_in_flight": "100%"})
    # THEN each receiver accepted the message: shape, size and signature as the vendor checks them
    by_kind = {m["kind"]: m for m in sim.inbox}
    assert set(by_kind) == {"slack", "teams", "feishu", "dingtalk", "wecom", "smn", "webhook"}
    assert by_kind["slack"]["answer"] == "ok" and by_kind["teams"]["status"] == 202
    assert by_kind["teams"]["answer"]["posted"]
    assert by_kind["feishu"]["answer"]["code"] == 0 and "sign" in by_kind["feishu"]["body"]
    assert by_kind["dingtalk"]["answer"]["errcode"] == 0 and by_kind["dingtalk"]["query"]["sign"]
    assert by_kind["wecom"]["answer"]["errcode"] == 0
    smn_structure = json.loads(by_kind["smn"]["body"]["message_structure"])
    assert set(smn_structure) == {"default", "email", "sms"} and "submitted 12" in smn_structure["sms"]
    # SMN sends "default" to every protocol without its own key (chat bots, HTTP): the short form, not the e-mail
    assert smn_structure["default"] == smn_structure["sms"] and len(smn_structure["email"]) > len(smn_structure["sms"])
    assert by_kind["webhook"]["status"] == 204 and by_kind["webhook"]["body"]["run_id"] == report["run_id"]
    # AND the signed JSON webhook verifies with the reference Standard Webhooks library
    hook = by_kind["webhook"]
    raw = json.dumps(hook["body"], separators=(",", ":")).encode()
    assert Webhook(environ["NOTIFY_HOOK_SECRET"]).verify(raw, hook["headers"])["run_id"] == report["run_id"]
    # AND every delivery was logged without URLs or keys
    sent = log_records(output, "notification_sent")
    assert {r["channel"] for r in sent} == {
        "slack-ops",
        "teams-ops",
        "feishu-ops",
        "ding-ops",
        "wecom-ops",
        "smn-ops",
        "hook",
    }
    for value in ("dingtoken", "wecomkey", "teamskey", FEISHU_SECRET, DINGTALK_SECRET, "/_sim/channels"):
        assert value not in output


def test_a_wrong_signing_secret_is_refused_like_the_vendor_would(sim: Simulator) -> None:
    environ = channels_env(sim, NOTIFY_FEISHU_SECRET="not-the-bot-secret", NOTIFY_DING_SECRET="SECwrong")
    _, output = run(environ, {"mode": "apply", "max_in_flight": "100%"})
    failed = {r["channel"]: r["problem"] for r in log_records(output, "notification_failed")}
    assert failed == {"feishu-ops": "refused: code 19021", "ding-ops": "refused: errcode 310000"}


def test_a_2000_instance_run_fits_every_channel() -> None:
    with Simulator(fleet(2000, seed=2)) as big:
        environ = channels_env(big)
        report, output = run(environ, {"mode": "apply", "max_in_flight": "100%"})
        inbox = big.inbox
    assert report["counts"]["submitted"] == 2000
    assert not log_records(output, "notification_failed")
    assert {m["kind"] for m in inbox} == {"slack", "teams", "feishu", "dingtalk", "wecom", "smn", "webhook"}
    wecom = next(m for m in inbox if m["kind"] == "wecom")["body"]["markdown"]["content"]
    assert "… and " in wecom and len(wecom.encode()) <= 4096
    teams = next(m for m in inbox if m["kind"] == "teams")
    assert teams["status"] == 202 and teams["answer"]["posted"]  # Teams would post it: it fits counted in UTF-16


def test_one_channel_failing_with_500_does_not_stop_another_or_lose_the_report(sim: Simulator) -> None:
    channels = [
        {"name": "slack-ops", "type": "slack", "url_secret": "NOTIFY_SLACK_URL"},
        {"name": "wecom-ops", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"},
    ]
    environ = channels_env(sim, channels=channels)
    sim.state.receivers.failures["slack-ops"] = [500, 500, 500]
    report, output = run(environ, {"mode": "apply", "max_in_flight": "100%"})
    # THEN Slack was tried once: after a 500 the message may have arrived, so it is not sent again
    assert [m["status"] for m in sim.inbox if m["channel"] == "slack-ops"] == [500]
    assert [m["status"] for m in sim.inbox if m["channel"] == "wecom-ops"] == [200]
    failed = log_records(output, "notification_failed")
    sent = log_records(output, "notification_sent")
    assert [(r["channel"], r["attempts"], r["problem"]) for r in failed] == [("slack-ops", 1, "HTTP 500: injected")]
    assert [r["channel"] for r in sent] == ["wecom-ops"]
    assert report["counts"]["submitted"] == 12 and log_records(output, "run_report")
    emf = [json.loads(line) for line in output.splitlines() if line.startswith('{"_aws"')]
    assert [r["NotificationFailures"] for r in emf if "NotificationFailures" in r] == [[1.0]]


def test_a_throttled_channel_is_tried_again_and_delivers_once(sim: Simulator) -> None:
    channels = [{"name": "slack-ops", "type": "slack", "url_secret": "NOTIFY_SLACK_URL"}]
    sim.state.receivers.failures["slack-ops"] = [429, 429]
    _, output = run(channels_env(sim, channels=channels), {"mode": "apply", "max_in_flight": 2})
    assert [m["status"] for m in sim.inbox if m["channel"] == "slack-ops"] == [429, 429, 200]
    assert [(r["channel"], r["attempts"]) for r in log_records(output, "notification_sent")] == [("slack-ops", 3)]


def test_feishu_and_wecom_rate_limits_in_a_200_are_tried_again_and_delivered_once(sim: Simulator) -> None:
    channels = [
        {"name": "feishu-ops", "type": "feishu", "url_secret": "NOTIFY_FEISHU_URL", "secret": "NOTIFY_FEISHU_SECRET"},
        {"name": "wecom-ops", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"},
    ]
    sim.state.receivers.failures["feishu-ops"] = ["throttled"]
    sim.state.receivers.failures["wecom-ops"] = ["throttled", "throttled"]
    _, output = run(channels_env(sim, channels=channels), {"mode": "apply", "max_in_flight": 2})
    answers = [(m["channel"], m["answer"]) for m in sim.inbox if m["channel"] in ("feishu-ops", "wecom-ops")]
    assert next(a for c, a in answers if c == "feishu-ops")["code"] == 11232
    assert [a["errcode"] for c, a in answers if c == "wecom-ops"] == [45009, 45009, 0]
    sent = {r["channel"]: r["attempts"] for r in log_records(output, "notification_sent")}
    assert sent == {"feishu-ops": 2, "wecom-ops": 3} and not log_records(output, "notification_failed")


def test_dingtalks_rate_limit_blocks_the_robot_for_minutes_so_it_is_not_tried_again(sim: Simulator) -> None:
    channels = [
        {"name": "ding-ops", "type": "dingtalk", "url_secret": "NOTIFY_DING_URL", "secret": "NOTIFY_DING_SECRET"}
    ]
    sim.state.receivers.failures["ding-ops"] = ["throttled"]
    _, output = run(channels_env(sim, channels=channels), {"mode": "apply", "max_in_flight": 2})
    assert len([m for m in sim.inbox if m["channel"] == "ding-ops"]) == 1
    failed = [(r["channel"], r["attempts"], r["problem"]) for r in log_records(output, "notification_failed")]
    assert failed == [("ding-ops", 1, "refused: errcode 130101")]


def test_all_channels_failing_fails_the_run_only_when_configured(sim: Simulator) -> None:
    channels = [{"name": "slack-ops", "type": "slack", "url_secret": "NOTIFY_SLACK_URL"}]
    sim.state.receivers.failures["slack-ops"] = [503] * 6
    lenient = channels_env(sim, channels=channels)
    report, _ = run(lenient, {"mode": "apply", "max_in_flight": 2})
    assert report["counts"]["submitted"] == 2
    strict = channels_env(sim, channels=channels, NOTIFY_FAILURE_FAILS_RUN="true")
    with pytest.raises(NotificationsFailedError):
        run(strict, {"mode": "apply", "max_in_flight": 4})
    sim.state.receivers.failures["slack-ops"] = [503] * 3
    response, _ = run(strict, signed_run_event(SECRET, json.dumps({"mode": "apply", "max_in_flight": 6}).encode()))
    assert response["statusCode"] == 502
    assert json.loads(response["body"])["report"]["counts"]["submitted"] == 2


def test_notify_on_and_request_narrowing(sim: Simulator) -> None:
    channels = [
        {"name": "always", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL", "notify_on": "always"},
        {"name": "changes", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"},
        {"name": "failures", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL", "notify_on": "failures"},
    ]
    environ = channels_env(sim, channels=channels)
    # a plan changes nothing: only 'always' hears of it
    run(environ, {"mode": "plan"})
    assert [m["channel"] for m in sim.inbox] == ["wecom-ops"]
    sim.state.inbox.clear()
    # an apply that submits: 'always' and 'changes'; the request narrows to one by name
    run(environ, {"mode": "apply", "max_in_flight": 1, "notify": ["changes"]})
    assert len(sim.inbox) == 1
    sim.state.inbox.clear()
    # notify false: nothing at all; an unknown name is noted in the report
    report, _ = run(environ, {"mode": "apply", "max_in_flight": 2, "notify": False})
    assert not sim.inbox
    report, _ = run(environ, {"mode": "plan", "notify": ["nope"]})
    assert any("nope" in note for note in report["notes"])


def test_a_channel_missing_its_secret_is_reported_and_the_others_still_deliver(sim: Simulator) -> None:
    channels = [
        {"name": "slack-ops", "type": "slack", "url_secret": "NOTIFY_MISSING_URL"},
        {"name": "wecom-ops", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"},
    ]
    report, output = run(channels_env(sim, channels=channels), {"mode": "apply", "max_in_flight": 1})
    invalid = log_records(output, "notification_channel_invalid")
    assert [(r["channel"], r["problem"]) for r in invalid] == [
        ("slack-ops", "channel slack-ops: secret NOTIFY_MISSING_URL is not set")
    ]
    assert [m["channel"] for m in sim.inbox] == ["wecom-ops"] and report["counts"]["submitted"] == 1


def test_channels_listed_in_the_lambda_secret_are_used(sim: Simulator) -> None:
    # GIVEN a secret (served by a stand-in for the secrets extension) that lists a channel and holds its URL
    credentials = sim.fleet.credentials
    secret = {
        "HUAWEICLOUD_SDK_AK": credentials.ak,
        "HUAWEICLOUD_SDK_SK": credentials.sk,
        "NOTIFY_CHANNELS": json.dumps([{"name": "wecom-ops", "type": "wecom", "url_secret": "NOTIFY_WECOM_URL"}]),
        "NOTIFY_WECOM_URL": f"{sim.base_url}/_sim/channels/wecom/wecom-ops?key=from-the-secret",
    }

    with secrets_extension(lambda path: secret) as (port, _):
        environ = {
            "HUAWEICLOUD_REGION": "ap-southeast-1",
            "HUAWEICLOUD_SDK_PROJECT_ID": credentials.project_id,
            "GEMINIDB_ENDPOINT": sim.base_url,
            "PATCHER_SECRET_ID": "patcher",
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(port),
        }
        report, output = run(environ, {"mode": "apply", "max_in_flight": 1})
    # THEN the channel from the secret delivered, and its keyed URL never reached the logs
    assert [(m["channel"], m["query"]["key"]) for m in sim.inbox] == [("wecom-ops", "from-the-secret")]
    assert report["counts"]["submitted"] == 1 and "from-the-secret" not in output
