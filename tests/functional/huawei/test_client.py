"""The real client and requests against the simulator over loopback."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.huawei.auth import AkSkAuth, IamTokenAuth, password_token_body
from geminidb_patcher.huawei.client import GeminiDBClient, issue_iam_token
from geminidb_patcher.huawei.errors import ApiError, AuthenticationError, ServerError, ThrottledError, TransportError
from geminidb_patcher.huawei.http import JsonHttp, Timeouts
from geminidb_patcher.huawei.signer import AkSkSigner
from tests.helpers import Sleeps, fleet_document, make_client, make_instance, utc_now


@pytest.mark.fleet(fleet_document(count=250))
def test_list_instances_follows_every_page(client: GeminiDBClient, simulator: Simulator) -> None:
    instances = client.list_instance_views()
    assert len(instances) == len({i.id for i in instances}) == 250
    pages = [e for e in simulator.exchanges if e.route == "GET /instances"]
    assert [(p.query["offset"], p.query["limit"]) for p in pages] == [("0", "100"), ("100", "100"), ("200", "100")]


def test_batch_upgrade_reports_mixed_202_item_by_item(client: GeminiDBClient, simulator: Simulator) -> None:
    # GIVEN one patchable instance and one unknown ID of the same batch
    known = simulator.fleet.instances[0]["id"]
    unknown = "f" * 32 + "in06"
    # WHEN submitting both
    results = client.batch_upgrade([known, unknown])
    # THEN the job and the per-item error come back separately, with the API's field names
    assert results[0].job_id and results[0].error_code is None
    assert (results[1].error_code, results[1].raw["error_message"]) == ("DBS.200002", "The DB instance does not exist.")
    (job,) = [j for j in client.list_jobs() if j.id == results[0].job_id]
    assert (job.name, job.status, job.instance_id) == ("UpgradeDbVersion", "Running", known)


def test_batch_upgrade_refuses_more_than_ten_ids_before_sending(client: GeminiDBClient, simulator: Simulator) -> None:
    with pytest.raises(ValueError, match="1 to 10"):
        client.batch_upgrade([f"{i:032x}in06" for i in range(11)])
    assert not simulator.exchanges


def test_reads_retry_429_honouring_retry_after(client: GeminiDBClient, simulator: Simulator, sleeps: Sleeps) -> None:
    simulator.state.faults.add(Fault("GET /instances", "status", status=429, headers={"Retry-After": "2"}))
    assert len(client.list_instance_views()) == 5
    assert sleeps == [2.0]


def test_post_retries_429_because_it_was_refused(client: GeminiDBClient, simulator: Simulator, sleeps: Sleeps) -> None:
    simulator.state.faults.add(Fault("POST /instances/db-upgrade", "status", status=429, headers={"Retry-After": "1"}))
    results = client.batch_upgrade([simulator.fleet.instances[0]["id"]])
    assert results[0].job_id
    assert sleeps == [1.0]


def test_post_is_never_retried_after_a_5xx(client: GeminiDBClient, simulator: Simulator, sleeps: Sleeps) -> None:
    simulator.state.faults.add(Fault("POST /instances/db-upgrade", "status", status=500))
    with pytest.raises(ServerError):
        client.batch_upgrade([simulator.fleet.instances[0]["id"]])
    assert len([e for e in simulator.exchanges if e.route == "POST /instances/db-upgrade"]) == 1
    assert sleeps == []


def test_post_dropped_after_acceptance_is_ambiguous(client: GeminiDBClient, simulator: Simulator) -> None:
    simulator.state.faults.add(Fault("POST /instances/db-upgrade", "accept_then_drop"))
    with pytest.raises(TransportError) as raised:
        client.batch_upgrade([simulator.fleet.instances[0]["id"]])
    assert raised.value.request_sent is True
    assert len(simulator.state.backend.jobs) == 1


def test_connection_refused_means_not_sent(simulator: Simulator, sleeps: Sleeps) -> None:
    client = make_client(simulator, sleeps)
    host = simulator.base_url.removeprefix("http://")
    simulator.stop()
    with pytest.raises(TransportError) as raised:
        client.batch_upgrade([simulator.fleet.instances[0]["id"]])
    assert raised.value.request_sent is False
    assert len(sleeps) == 1  # a connect failure proves the POST never arrived: retried, but once (fail fast)
    assert host in str(raised.value)  # the error names the host


def test_reads_retry_5xx_then_give_up(client: GeminiDBClient, simulator: Simulator, sleeps: Sleeps) -> None:
    simulator.state.faults.add(Fault("GET /jobs", "status", status=503, times=10))
    with pytest.raises(ServerError) as raised:
        client.list_jobs(name="UpgradeDbVersion")
    assert raised.value.error_code == "DBS.200998" and raised.value.request_id
    assert sleeps == [0.5, 1.0, 2.0]


def test_wrong_secret_key_gets_401_in_gateway_shape(simulator: Simulator, sleeps: Sleeps) -> None:
    credentials = simulator.fleet.credentials
    auth = AkSkAuth(AkSkSigner(credentials.ak, "wrong-secret"), credentials.project_id)
    with pytest.raises(AuthenticationError) as raised:
        make_client(simulator, sleeps, auth).list_instance_views()
    assert (raised.value.status, raised.value.error_code) == (401, "APIG.0301")
    assert "verify aksk signature fail" in raised.value.message
    assert "wrong-secret" not in str(raised.value)


@pytest.mark.fleet(fleet_document(credentials={"iam_user": "ops", "iam_password": "pw-123", "iam_domain": "acme"}))
def test_iam_token_is_cached_and_refreshed_once_on_401(simulator: Simulator, sleeps: Sleeps) -> None:
    # GIVEN token auth through the simulator's IAM
    http = JsonHttp(__import__("requests").Session(), Timeouts(1.0, 2.0), utc_now)
    project = simulator.fleet.credentials.project_id
    issued: list[str] = []

    def issue() -> object:
        token = issue_iam_token(
            http,
            simulator.base_url,
            password_token_body(user="ops", password="pw-123", domain="acme", project_id=project),
            expires_default=utc_now() + timedelta(hours=1),
        )
        issued.append(token.value)
        return token

    client = make_client(simulator, sleeps, IamTokenAuth(issue, utc_now))  # type: ignore[arg-type]
    client.list_instance_views()
    client.list_instance_views()
    assert len(issued) == 1  # cached
    # WHEN the token is revoked mid-run
    simulator.state.gateway.revoke_tokens()
    client.list_instance_views()
    # THEN exactly one new token was fetched and the call succeeded
    assert len(issued) == 2


def test_iam_token_with_wrong_password_is_refused(simulator: Simulator) -> None:
    http = JsonHttp(__import__("requests").Session(), Timeouts(1.0, 2.0), utc_now)
    body = password_token_body(user="ops", password="nope", domain="acme", project_id="0" * 32)
    with pytest.raises(AuthenticationError):
        issue_iam_token(http, simulator.base_url, body, expires_default=utc_now())


@pytest.mark.parametrize(
    ("engines", "count", "status", "code"),
    [
        (["cassandra", "redis"], 2, 400, "DBS.200001"),
        (["mongodb"], 1, 404, "DBS.200042"),  # 404 per Huawei's error-code table
        (["cassandra"], 11, 400, "DBS.200001"),
    ],
)
def test_simulator_enforces_batch_rules(engines: list[str], count: int, status: int, code: str, sleeps: Sleeps) -> None:
    rng = random.Random(9)
    instances = [make_instance(rng, engines[i % len(engines)]) for i in range(count)]
    with Simulator({"instances": instances}) as simulator:
        client = make_client(simulator, sleeps)
        client_ids = [i["id"] for i in instances]
        # bypass the client's own size check to see the server's answer
        with pytest.raises(ApiError) as raised:
            client._call(
                "POST", "/instances/db-upgrade", body={"instance_ids": client_ids}, may_retry=lambda error: False
            )
        assert (raised.value.status, raised.value.error_code) == (status, code)


@pytest.mark.fleet(
    {
        "instances": [
            {"id": "a" * 32 + "in06", "status": "abnormal"},
            {"id": "b" * 32 + "in06", "actions": ["REBOOT"]},
            {"id": "c" * 32 + "in06", "datastore": {"type": "cassandra", "patch_available": False}},
        ]
    }
)
def test_simulator_answers_per_item_errors(client: GeminiDBClient) -> None:
    codes = [r.error_code for r in client.batch_upgrade(["a" * 32 + "in06", "b" * 32 + "in06", "c" * 32 + "in06"])]
    assert codes == ["DBS.200011", "DBS.200019", "DBS.280236"]


def test_jobs_complete_on_the_simulated_clock(client: GeminiDBClient, simulator: Simulator) -> None:
    instance = simulator.fleet.instances[0]
    job_id = client.batch_upgrade([instance["id"]])[0].job_id
    assert job_id
    simulator.state.clock.advance(3600)
    (job,) = [j for j in client.list_jobs(status="Completed") if j.id == job_id]
    assert job.ended_at is not None
    after = next(i for i in client.list_instance_views() if i.id == instance["id"])
    assert after.patch_available is False and after.actions == ()
    now = datetime.now(UTC) + timedelta(hours=1)
    assert [
        j.id
        for j in client.list_jobs(
            status="Completed", start_time=now - timedelta(days=1), end_time=now + timedelta(minutes=1)
        )
    ] == [job_id]


@pytest.mark.fleet(fleet_document(count=2, scheduled_tasks=[{"instance_id": "d" * 32 + "in06"}]))
def test_scheduled_tasks_list(client: GeminiDBClient) -> None:
    tasks = client.list_scheduled_tasks(job_status="Pending")
    assert [(t.instance_id, t.task_id) for t in tasks] == [("d" * 32 + "in06", "sched-0000")]


def test_read_timeout_is_explicit(simulator: Simulator, sleeps: Sleeps) -> None:
    simulator.state.faults.add(Fault("GET /instances", "delay", delay=0.6, times=5))
    client = make_client(simulator, sleeps, timeouts=Timeouts(0.5, 0.2))
    with pytest.raises(TransportError) as raised:
        client.list_instance_views()
    assert raised.value.silent and len(sleeps) == 1  # took the request, never answered in time: one retry, not three


def test_throttled_error_gives_up_when_retry_after_is_too_long(client: GeminiDBClient, simulator: Simulator) -> None:
    simulator.state.faults.add(Fault("GET /instances", "status", status=429, headers={"Retry-After": "3600"}))
    with pytest.raises(ThrottledError):
        client.list_instance_views()
