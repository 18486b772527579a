"""The real handler, both triggers, against the simulator over loopback."""

from __future__ import annotations

import json
import random
from collections import Counter
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from standardwebhooks.webhooks import Webhook

from geminidb_local.environment import new_webhook_secret, simulator_environment, simulator_wiring
from geminidb_local.lambda_shim import LocalContext, http_api_event, make_handler, signed_run_event
from geminidb_local.simulator import Fault, Simulator, demo_fleet
from geminidb_patcher.entrypoints.handler import make_scheduled_handler, make_webhook_handler
from geminidb_patcher.errors import ConfigError, InvalidRunRequestError
from tests.helpers import load_event, make_instance

SECRET = new_webhook_secret()


def records(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def logs(output: str, message: str) -> list[dict[str, Any]]:
    return [r for r in records(output) if r.get("message") == message]


@pytest.fixture
def demo_simulator() -> Any:
    with Simulator(demo_fleet()) as simulator:
        yield simulator


@pytest.fixture
def handler(demo_simulator: Simulator) -> Any:
    return make_handler(simulator_environment(demo_simulator, webhook_secret=SECRET))


def test_schedule_plan_accounts_for_every_instance_and_submits_nothing(
    handler: Any, demo_simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    report = handler(load_event("schedule-plan.json"), LocalContext())
    assert report["trigger"] == "schedule" and report["mode"] == "plan"
    assert Counter(o["instance_id"] for o in report["outcomes"]) == Counter(
        i["id"] for i in demo_simulator.fleet.instances
    )
    # AND the schedule's defaults apply: each instance's own window, at most 25% of the fleet in flight
    counts = report["counts"]
    assert (counts["planned"], counts["skipped"], counts["deferred"]) == (9, 16, 16)
    reasons = Counter(o["reason"] for o in report["outcomes"] if o["outcome"] != "planned")
    assert reasons["max_in_flight"] == 16 and report["rollout"]["max_in_flight"] == 10
    assert reasons["outside_maintenance_window"] == reasons["abnormal_node"] == 1
    assert reasons["waiting_for_dr_standby"] == 2  # a Cassandra pair by declared roles, a Redis pair by the role API
    assert report["plan_id"].startswith("p-")
    assert not [e for e in demo_simulator.exchanges if e.method == "POST" and "db-upgrade" in e.path]
    run_reports = logs(capsys.readouterr().out, "run_report")
    assert len(run_reports) == 1 and run_reports[0]["correlation_id"] == "demo-execution-plan"


def test_schedule_apply_submits_batches_logs_each_and_notifies(
    handler: Any, demo_simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    # WHEN the scheduled apply runs
    report = handler(load_event("schedule-apply.json"), LocalContext())
    output = capsys.readouterr().out
    # THEN submitted instances have jobs in the simulator and the rejection is reported item by item
    jobs = {j["id"] for j in demo_simulator.state.backend.snapshot()["jobs"]}
    submitted = [o for o in report["outcomes"] if o["outcome"] == "submitted"]
    assert len(submitted) == 24 and all(o["job_id"] in jobs for o in submitted)
    rejected = [o for o in report["outcomes"] if o["outcome"] == "rejected"]
    assert [(o["instance_name"], o["error_code"]) for o in rejected] == [("flaky-redis-00", "DBS.200019")]
    # AND one log record per batch carries its upgrade_results verbatim
    batches = logs(output, "upgrade_batch")
    posts = [e for e in demo_simulator.exchanges if e.route == "POST /instances/db-upgrade"]
    assert len(batches) == len(posts) == 4
    assert sorted(r["instance_id"] for b in batches for r in b["upgrade_results"]) == sorted(
        r["instance_id"] for r in report["upgrade_results"]
    )
    # AND EMF metrics count outcomes
    emf = [r for r in records(output) if "_aws" in r]
    (main_record,) = [r for r in emf if "InstancesSubmitted" in r]
    assert main_record["InstancesSubmitted"] == [24.0] and len(main_record["BatchLatency"]) == 4
    # AND outcomes are also counted by outcome, engine and reason, as documented
    by_reason = {(r["outcome"], r["engine"], r["reason"]): r["Outcomes"] for r in emf if "Outcomes" in r}
    assert by_reason[("rejected", "redis", "DBS.200019")] == [1.0]
    assert by_reason[("skipped", "mongodb", "unsupported_engine")] == [2.0]
    dimensions = next(r for r in emf if "Outcomes" in r)["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert sorted(dimensions[0]) == ["engine", "outcome", "reason", "service"]
    # AND the report is logged as a summary plus outcome records, each far below CloudWatch's 256 KB event limit
    (summary,) = logs(output, "run_report")
    parts = logs(output, "run_outcomes")
    assert summary["outcome_parts"] == len(parts) and sum(len(p["outcomes"]) for p in parts) == 41
    assert max(len(line.encode()) for line in output.splitlines()) < 256_000
    # AND every log record of the run carries its run id and correlation id
    logged = [r for r in records(output) if "message" in r]
    assert {r["run_id"] for r in logged} == {report["run_id"]}
    assert {r["correlation_id"] for r in logged} == {"demo-execution-apply"}
    # AND the notification is the report, verifiable with the reference Standard Webhooks library
    (message,) = demo_simulator.inbox
    assert message["body"]["run_id"] == report["run_id"]


def test_notification_signature_verifies_with_reference_library(demo_simulator: Simulator) -> None:
    # GIVEN a receiver that checks signatures like a real one
    received: list[tuple[dict[str, str], bytes]] = []
    import http.server
    import threading

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            received.append((dict(self.headers), self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    environ = simulator_environment(demo_simulator, webhook_secret=SECRET)
    environ["NOTIFY_WEBHOOK_URL"] = f"http://127.0.0.1:{server.server_address[1]}/hook"
    try:
        report = make_handler(environ)({"mode": "plan"}, LocalContext())
    finally:
        server.shutdown()
        server.server_close()
    # THEN the reference library accepts the signature and the body is the report
    headers, body = received[0]
    verified = Webhook(environ["NOTIFY_WEBHOOK_SECRET"]).verify(body, {k.lower(): v for k, v in headers.items()})
    assert verified["run_id"] == report["run_id"]


def test_webhook_signed_request_runs(handler: Any, capsys: pytest.CaptureFixture[str]) -> None:
    body = json.loads(load_event("webhook-run.json")["body"])
    event = signed_run_event(SECRET, json.dumps(body).encode(), msg_id="msg_test_1")
    response = handler(event, LocalContext())
    assert response["statusCode"] == 200
    report = json.loads(response["body"])
    assert report["trigger"] == "webhook" and {o["engine"] for o in report["outcomes"]} == {"cassandra"}
    assert logs(capsys.readouterr().out, "run_report")[0]["correlation_id"] == "msg_test_1"


@pytest.mark.parametrize("name", ["webhook-run.json", "invalid/webhook-unsigned.json", "invalid/webhook-bad-body.json"])
def test_webhook_stale_or_missing_signature_is_401_before_parsing(
    handler: Any, demo_simulator: Simulator, name: str
) -> None:
    response = handler(load_event(name), LocalContext())
    assert response["statusCode"] == 401
    assert json.loads(response["body"]) == {
        "error": "unauthorized",
        "message": "The request is not signed with a valid webhook signature.",
    }
    assert not demo_simulator.exchanges


def test_webhook_signature_for_another_body_is_401(handler: Any) -> None:
    event = signed_run_event(SECRET, b'{"mode": "plan"}')
    event["body"] = '{"mode": "apply"}'
    assert handler(event, LocalContext())["statusCode"] == 401


def test_webhook_replayed_id_is_409_already_used(handler: Any) -> None:
    body = b'{"mode": "plan"}'
    assert handler(signed_run_event(SECRET, body, msg_id="msg_once"), LocalContext())["statusCode"] == 200
    again = handler(signed_run_event(SECRET, body, msg_id="msg_once"), LocalContext())
    assert again["statusCode"] == 409 and json.loads(again["body"])["error"] == "already_used"


def test_webhook_bad_body_is_422_naming_fields(handler: Any, demo_simulator: Simulator) -> None:
    body = load_event("invalid/webhook-bad-body.json")["body"].encode()
    response = handler(signed_run_event(SECRET, body), LocalContext())
    assert response["statusCode"] == 422
    problems = json.loads(response["body"])["problems"]
    assert {p["field"] for p in problems} == {"mode", "instance_ids.0"}
    assert not [e for e in demo_simulator.exchanges if e.method == "POST"]


def test_webhook_malformed_json_is_422(handler: Any) -> None:
    response = handler(signed_run_event(SECRET, b'{"mode": '), LocalContext())
    assert response["statusCode"] == 422


def test_openapi_document_is_served(handler: Any) -> None:
    response = handler(load_event("webhook-openapi.json"), LocalContext())
    assert response["statusCode"] == 200
    document = json.loads(response["body"])
    assert "/runs" in document["paths"] and "RunRequest" in document["components"]["schemas"]


def test_unknown_route_is_401_unsigned_and_404_signed(handler: Any) -> None:
    assert handler(http_api_event("GET", "/admin"), LocalContext())["statusCode"] == 401
    assert handler(signed_run_event(SECRET, b"", method="GET", path="/admin"), LocalContext())["statusCode"] == 404


@pytest.mark.parametrize(
    "name", ["schedule-bad-mode.json", "direct-bad-instance-id.json", "schedule-unknown-field.json"]
)
def test_invalid_schedule_fails_fast_and_changes_nothing(
    handler: Any, demo_simulator: Simulator, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(InvalidRunRequestError):
        handler(load_event(f"invalid/{name}"), LocalContext())
    assert not demo_simulator.exchanges
    assert logs(capsys.readouterr().out, "invalid_run_request")


def test_direct_selector_event_applies_only_matching(handler: Any) -> None:
    report = handler(load_event("direct-apply-selector.json"), LocalContext())
    assert report["trigger"] == "direct"
    assert {o["instance_name"][:6] for o in report["outcomes"]} == {"orders"}
    assert report["counts"]["submitted"] == 12


def test_ambiguous_batch_failure_is_resolved_by_reobservation(handler: Any, demo_simulator: Simulator) -> None:
    # GIVEN the first batch is accepted but the connection drops before the answer
    demo_simulator.state.faults.add(Fault("POST /instances/db-upgrade", "accept_then_drop"))
    report = handler({"mode": "apply", "selector": {"name": "*orders"}, "max_in_flight": 50}, LocalContext())
    # THEN nothing was sent twice, and the accepted instances are reported as submitted with their jobs
    posts = [e for e in demo_simulator.exchanges if e.route == "POST /instances/db-upgrade"]
    sent = [i for e in posts for i in e.body["instance_ids"]]
    assert len(sent) == len(set(sent)) == 12
    assert report["counts"]["submitted"] == 12 and report["counts"]["failed"] == 0


def test_batch_5xx_without_acceptance_is_failed_not_retried(demo_simulator: Simulator) -> None:
    demo_simulator.state.faults.add(Fault("POST /instances/db-upgrade", "status", status=500))
    environ = simulator_environment(demo_simulator, webhook_secret=SECRET)
    pauses: list[float] = []  # re-reading the jobs waits 1, 2, 4, 8 s; here it need not
    handler = make_handler(environ, simulator_wiring(demo_simulator, environ, sleep=pauses.append))
    report = handler({"mode": "apply", "selector": {"engines": ["influxdb"]}, "max_in_flight": "100%"}, LocalContext())
    assert pauses == [1.0, 2.0, 4.0, 8.0]
    failed = [o for o in report["outcomes"] if o["outcome"] == "failed"]
    assert len(failed) == 6 and {o["error_code"] for o in failed} == {"DBS.200998"}
    assert len([e for e in demo_simulator.exchanges if e.route == "POST /instances/db-upgrade"]) == 1


def test_deadline_defers_batches(handler: Any) -> None:
    # 10 s left: enough for the reads (which keep a quarter of the 20 s margin), too little to submit
    report = handler({"mode": "apply", "max_in_flight": "100%"}, LocalContext(timeout_ms=10_000))
    assert report["counts"]["deferred"] == 26 and report["counts"]["submitted"] == 0
    assert {o["reason"] for o in report["outcomes"] if o["outcome"] == "deferred"} == {"deadline"}


def test_notification_failure_does_not_lose_the_report(
    demo_simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    environ = simulator_environment(demo_simulator, webhook_secret=SECRET)
    environ["NOTIFY_WEBHOOK_URL"] = "http://127.0.0.1:9/unreachable"
    report = make_handler(environ)({"mode": "plan", "max_in_flight": "100%"}, LocalContext())
    output = capsys.readouterr().out
    assert report["counts"]["planned"] == 26
    failures = logs(output, "notification_failed")
    assert failures and "127.0.0.1:9" not in json.dumps(failures)


_spec = st.tuples(st.sampled_from(["cassandra", "influxdb", "redis", "mongodb"]), st.booleans(), st.booleans())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(specs=st.lists(_spec, min_size=1, max_size=45), seed=st.integers(0, 10**6), reject_ratio=st.floats(0, 0.5))
def test_property_random_fleets_through_real_handler(
    specs: list[tuple[str, bool, bool]], seed: int, reject_ratio: float
) -> None:
    # GIVEN a random fleet where some instances are rejected by the API
    rng = random.Random(seed)
    instances = [
        make_instance(rng, engine, patch_available=patch, status="normal" if ok else "abnormal")
        for engine, patch, ok in specs
    ]
    rejects = {i["id"]: "DBS.200019" for i in instances if rng.random() < reject_ratio}
    with Simulator({"instances": instances, "reject_upgrades": rejects}) as simulator:
        environ = simulator_environment(simulator, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        report = make_handler(environ)({"mode": "apply", "max_in_flight": "100%"}, LocalContext())
        posts = [e for e in simulator.exchanges if e.route == "POST /instances/db-upgrade"]
    engine_of = {i["id"]: i["datastore"]["type"] for i in instances}
    # THEN no request carries more than ten IDs or two engines
    for post in posts:
        ids = post.body["instance_ids"]
        assert 1 <= len(ids) <= 10 and len({engine_of[i] for i in ids}) == 1
    # AND each instance has exactly one outcome
    assert sorted(o["instance_id"] for o in report["outcomes"]) == sorted(engine_of)
    # AND a 202 with mixed items is reported item by item
    by_id = {o["instance_id"]: o for o in report["outcomes"]}
    for item in report["upgrade_results"]:
        outcome = by_id[item["instance_id"]]
        if "job_id" in item:
            assert outcome["outcome"] == "submitted" and outcome["job_id"] == item["job_id"]
        else:
            assert outcome["outcome"] == "rejected" and outcome["error_code"] == item["error_code"]


@pytest.mark.parametrize("name", ["schedule-eventbridge-scheduler.json", "schedule-eventbridge-rule.json"])
def test_eventbridge_envelopes_run_as_schedules_with_their_id_and_arn(
    handler: Any, name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    event = load_event(name)
    report = handler(event, LocalContext())
    assert (report["trigger"], report["mode"]) == ("schedule", "plan")
    assert report["source"]["event_id"] == event["id"] and report["source"]["schedule_arn"] == event["resources"][0]
    (run_report,) = logs(capsys.readouterr().out, "run_report")
    assert run_report["correlation_id"] == event["id"]


def test_early_handlers_answer_like_lazy_ones_and_a_configuration_error_is_raised_by_every_invocation(
    demo_simulator: Simulator,
) -> None:
    environ = simulator_environment(demo_simulator, webhook_secret=SECRET)
    early = make_scheduled_handler(environ, early=True)
    webhook = make_webhook_handler(environ, early=True)
    plan = early(load_event("schedule-plan.json"), LocalContext())
    assert plan["trigger"] == "schedule" and plan["counts"]["planned"] == 9
    signed = webhook(signed_run_event(SECRET, json.dumps({"mode": "plan"}).encode()), LocalContext())
    assert signed["statusCode"] == 200

    broken = {**environ, "SUBMIT_CONCURRENCY": "99"}  # refused by the settings: found at import, raised per call
    for make in (make_scheduled_handler, make_webhook_handler):
        handler = make(broken, early=True)
        for _ in range(2):
            with pytest.raises(ConfigError, match="SUBMIT_CONCURRENCY"):
                handler(load_event("schedule-plan.json"), LocalContext())
