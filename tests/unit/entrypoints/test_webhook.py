"""The webhook API on its own: a fake run and a fake table, so each answer's rule is seen without a simulator."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext, signed_run_event
from geminidb_patcher.contract.report import Outcome, RunReport
from geminidb_patcher.contract.request import RunRequest, Target
from geminidb_patcher.entrypoints.webhook import WebhookApi, shared_id_key
from geminidb_patcher.run.lease import Holder, LeaseUnavailableError
from geminidb_patcher.run.patcher import RunContext
from geminidb_patcher.run.report import RunRecord, build_report

SECRET = new_webhook_secret()
TARGET = Target(region="ap-southeast-1", project_id="0" * 32)
NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


def _report(request: RunRequest, context: RunContext, reason: str | None = None) -> RunReport:
    outcomes = [
        Outcome(instance_id="i-1", region=TARGET.region, project_id=TARGET.project_id, outcome="deferred",
                reason=reason, detail="held")
    ] if reason else []  # fmt: skip
    record = RunRecord(
        run_id=context.run_id, trigger=context.trigger, source=None, request=request, started_at=NOW,
        targets=[TARGET], errors=[], plan=None, outcomes=outcomes, upgrade_results=[], compliance=[], next_steps=[],
    )  # fmt: skip
    return build_report(record, NOW, [])


class Table:
    """A ``LeaseStore``'s claims in memory; ``down`` makes every call fail as an unreachable table does."""

    def __init__(self, down: bool = False) -> None:
        self.claims: dict[str, str] = {}
        self.down = down

    @property
    def name(self) -> str:
        return "leases"

    def claim(self, key: str, now: float, term: float) -> str | None:
        if self.down:
            raise LeaseUnavailableError("the lease table leases is unavailable")
        if key in self.claims:
            return None
        self.claims[key] = f"token-{len(self.claims)}"
        return self.claims[key]

    def unclaim(self, key: str, token: str) -> None:
        if self.claims.get(key) == token:
            del self.claims[key]

    def take(self, key: str, holder: Holder, now: float, term: float) -> Holder | None:
        raise AssertionError("the webhook API takes no lease")

    renew = release = take


def _api(table: Table | None = None, reason: str | None = None) -> tuple[WebhookApi, list[RunRequest]]:
    runs: list[RunRequest] = []

    def run(request: RunRequest, context: RunContext) -> RunReport:
        runs.append(request)
        return _report(request, context, reason)

    return WebhookApi(run, lambda: [SECRET], tolerance=300, shared_ids=table), runs  # type: ignore[arg-type]


def _event(body: object, msg_id: str = "msg_1") -> dict[str, object]:
    return signed_run_event(SECRET, json.dumps(body).encode(), msg_id=msg_id)


def test_a_run_that_another_apply_held_back_answers_409_busy_with_the_report_and_retry_after() -> None:
    api, _ = _api(reason="another_run_applying")
    answer = api.resolve(_event({"mode": "apply"}), LocalContext())
    body = json.loads(answer["body"])
    assert answer["statusCode"] == 409 and answer["headers"]["Retry-After"] == "60"
    assert body["error"] == "another_run_applying" and body["outcomes"][0]["reason"] == "another_run_applying"


def test_a_run_held_back_for_any_other_reason_is_a_plain_200() -> None:
    api, _ = _api(reason="max_in_flight")
    assert api.resolve(_event({"mode": "apply"}), LocalContext())["statusCode"] == 200


def test_the_shared_table_refuses_an_id_another_container_accepted_and_runs_nothing() -> None:
    table = Table()
    first, first_runs = _api(table)
    second, second_runs = _api(table)  # another container: its own memory, the same table
    assert first.resolve(_event({"mode": "plan"}), LocalContext())["statusCode"] == 200
    replayed = second.resolve(_event({"mode": "plan"}), LocalContext())
    assert replayed["statusCode"] == 409 and json.loads(replayed["body"])["error"] == "already_used"
    assert len(first_runs) == 1 and second_runs == []
    assert shared_id_key("msg_1") in table.claims


def test_a_refused_request_gives_its_id_back_so_the_sender_may_retry_with_it() -> None:
    table = Table()
    api, runs = _api(table)
    assert api.resolve(_event({"mode": "sometimes"}), LocalContext())["statusCode"] == 422
    assert table.claims == {}
    assert api.resolve(_event({"mode": "plan"}), LocalContext())["statusCode"] == 200 and len(runs) == 1


def test_an_unreachable_table_refuses_with_503_and_runs_nothing() -> None:
    api, runs = _api(Table(down=True))
    answer = api.resolve(_event({"mode": "plan"}), LocalContext())
    assert answer["statusCode"] == 503 and answer["headers"]["Retry-After"] and runs == []


def test_the_request_is_read_through_powertools_event_class_as_the_resolver_reads_it() -> None:
    from geminidb_local.lambda_shim import http_api_event
    from geminidb_patcher.entrypoints.webhook import HttpRequest

    event = http_api_event("post", "/prod/runs", b"\xff\x00binary", {"Content-Type": "Application/JSON"})
    event["requestContext"]["stage"] = "prod"
    request = HttpRequest.of(event)
    assert (request.method, request.path, request.raw) == ("POST", "/runs", b"\xff\x00binary")
    assert request.headers.get("CONTENT-TYPE") == "Application/JSON" and not request.iam_principal
    event["requestContext"]["authorizer"] = {"iam": {"accessKey": "ASIA…", "userArn": "arn:aws:iam::1:user/ci"}}
    assert HttpRequest.of(event).iam_principal


def test_a_malformed_event_reads_as_empty_parts_not_as_an_exception() -> None:
    from geminidb_patcher.entrypoints.webhook import HttpRequest

    for event in ({}, {"requestContext": "x", "headers": None}, {"requestContext": {"authorizer": "x"}}):
        request = HttpRequest.of(event)
        assert request.method == "" and request.path == "/" and request.raw == b"" and not request.iam_principal


def test_the_openapi_document_still_describes_every_shape_of_the_fields_written_in_several() -> None:
    api, _ = _api()
    properties = json.loads(api.app.get_openapi_json_schema(title="t", version="1"))["components"]["schemas"][
        "RunRequest"
    ]["properties"]
    window = json.dumps(properties["window"])
    assert '"enum": ["instance", "anytime"]' in window and "ExplicitWindow" in window
    assert {shape["type"] for shape in properties["max_in_flight"]["anyOf"]} == {"integer", "string"}
    assert {shape["type"] for shape in properties["notify"]["oneOf"]} == {"array", "boolean"}
