"""Contract tests: Huawei's official SDK (3.1.219) is the client, the simulator the server.

The simulator and the function were written from one reading of the docs; the SDK was not. Each test drives
one operation the function or a channel uses through the SDK (which also signs every request, so the
simulator's signature check is tested against Huawei's own signer), checks the answer field by field against
the SDK's models, checks that each constraint the SDK documents is refused, and checks that what our own
client sends is what the SDK would send.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from huaweicloudsdkcore.exceptions.exceptions import ClientRequestException
from huaweicloudsdkgaussdbfornosql.v3 import (
    BatchUpgradeDatabaseVersionRequest,
    BatchUpgradeDatabaseVersionRequestBody,
    CreateBackRequest,
    GaussDBforNoSQLClient,
    ListBackupsRequest,
    ListInstancesByResourceTagsRequest,
    ListInstancesByTagsRequestBody,
    ListInstancesRequest,
    ListJobsRequest,
    ListNosqlTaskListRequest,
    MatchOption,
    NoSqlCreateBackupRequestBody,
    ShowInstanceRoleRequest,
    TagOption,
)
from huaweicloudsdkgaussdbfornosql.v3.region.gaussdbfornosql_region import GaussDBforNoSQLRegion
from huaweicloudsdkiam.v3 import (
    KeystoneCreateAgencyTokenRequest,
    KeystoneCreateAgencyTokenRequestBody,
    KeystoneCreateUserTokenByPasswordRequest,
    KeystoneCreateUserTokenByPasswordRequestBody,
    KeystoneListAuthProjectsRequest,
)
from huaweicloudsdkiam.v3.region.iam_region import IamRegion
from huaweicloudsdksmn.v2 import PublishMessageRequest, PublishMessageRequestBody
from huaweicloudsdksmn.v2.region.smn_region import SmnRegion

from geminidb_local.simulator import Simulator
from geminidb_local.simulator.fleet import DEFAULT_PROJECT_ID, DEFAULT_REGION, complete_instance, instance_id
from geminidb_patcher.huawei.auth import AkSkAuth, agency_token_body, password_token_body
from geminidb_patcher.huawei.client import GeminiDBClient, huawei_time
from geminidb_patcher.huawei.endpoints import (
    GEMINIDB_REGIONS,
    IAM_GLOBAL_ENDPOINT,
    geminidb_endpoint,
    iam_endpoint,
    smn_endpoint,
)
from geminidb_patcher.huawei.http import JsonHttp, Timeouts
from geminidb_patcher.huawei.projects import list_auth_projects
from geminidb_patcher.huawei.signer import AkSkSigner
from geminidb_patcher.notify import smn
from geminidb_patcher.notify.digest import build_digest
from tests.contract.sdk_models import (
    iam_client,
    iam_model,
    nosql_client,
    nosql_model,
    problems,
    query_names,
    response_problems,
    smn_client,
    smn_model,
)
from tests.helpers import Sleeps, make_client
from tests.reports import failing_run, large_run, small_run

NOW = datetime.now(UTC)
DOCUMENTED_SCHEDULE_FIELDS = {
    "job_id",
    "job_name",
    "job_status",
    "instance_id",
    "instance_name",
    "instance_status",
    "datastore_type",
    "create_time",
    "start_time",
    "end_time",
}
"""ListNosqlTaskList's schedule fields (Huawei API page nosql_10_0102; the SDK's model for them is empty)."""
IAM_USER = {"iam_user": "ops", "iam_password": "contract-pw-1", "iam_domain": "acme"}


def contract_fleet() -> dict[str, Any]:
    """230 instances of every engine, a DR pair, a load-balanced and a cloud-native Redis, tags, jobs, tasks."""
    rng = random.Random(11)
    engines = ["cassandra", "influxdb", "redis", "mongodb", "dynamodb", "hbase"]
    instances: list[dict[str, Any]] = [
        {"id": instance_id(rng), "name": f"{engines[i % 6]}-{i:03d}", "datastore": {"type": engines[i % 6]}}
        for i in range(226)
    ]
    standby, primary = instance_id(rng), instance_id(rng)
    instances += [
        {
            "id": standby,
            "name": "dr-standby",
            "datastore": {"type": "redis"},
            "dr_instance_id": primary,
            "dr_role": "slave",
        },
        {
            "id": primary,
            "name": "dr-primary",
            "datastore": {"type": "redis"},
            "dr_instance_id": standby,
            "dr_role": "master",
        },
        {"id": instance_id(rng), "name": "lb-redis", "datastore": {"type": "redis"}, "lb_ip_address": "10.0.0.9"},
        {"id": instance_id(rng), "name": "cn-redis", "datastore": {"type": "redis"}, "mode": "CloudNativeCluster"},
    ]
    for item in instances[:40]:
        item["tags"] = {"ring": "early" if len(item["name"]) % 2 else "late", "team": "db"}
    eight_days_ago = huawei_time(NOW - timedelta(days=8))
    return {
        "instances": instances,
        "jobs": [
            {"instance_id": instances[0]["id"], "status": "Running"},
            {
                "instance_id": instances[1]["id"],
                "status": "Completed",
                "start_time": huawei_time(NOW - timedelta(hours=3)),
            },
            {"instance_id": instances[2]["id"], "status": "Failed", "fail_reason": "node restart timed out"},
        ],
        "scheduled_tasks": [
            {"instance_id": instances[3]["id"], "job_id": "task-recent"},
            {"instance_id": instances[4]["id"], "job_id": "task-8-days-old", "create_time": eight_days_ago},
        ],
        "credentials": {
            **IAM_USER,
            "iam_user_project_id": "fedcba9876543210fedcba9876543210",
            "agency_domain_id": "d" * 32,
            "agency_name": "geminidb-patcher",
        },
        "smn_templates": ["patch-report"],
    }


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    with Simulator(contract_fleet()) as running:
        yield running


@pytest.fixture(scope="module")
def sdk(simulator: Simulator) -> Any:
    return nosql_client(simulator)


@pytest.fixture
def ours(simulator: Simulator) -> GeminiDBClient:
    return make_client(simulator, Sleeps())


def refused(call: Any, *args: Any) -> ClientRequestException:
    with pytest.raises(ClientRequestException) as raised:
        call(*args)
    return raised.value


def our_requests(simulator: Simulator, route: str, since: int) -> list[Any]:
    return [exchange for exchange in simulator.exchanges[since:] if exchange.route == route]


# -- ListInstances ------------------------------------------------------------------------------------------


def test_list_instances_pages_parse_into_the_sdk_models_and_match_our_client(sdk: Any, ours: GeminiDBClient) -> None:
    seen: list[str] = []
    for offset in range(0, 230, 100):
        page = sdk.list_instances(ListInstancesRequest(offset=offset, limit=100))
        assert response_problems(page) == []
        assert page.total_count == 230
        seen += [item.id for item in page.instances]
    assert len(seen) == len(set(seen)) == 230
    assert [view.id for view in ours.list_instance_views()] == seen  # same order: newest first


def test_list_instances_limit_outside_1_to_100_is_refused(sdk: Any) -> None:
    for limit in (0, 101):
        error = refused(sdk.list_instances, ListInstancesRequest(limit=limit))
        assert (error.status_code, error.error_code) == (400, "DBS.200001")


def test_optional_instance_fields_appear_only_where_huawei_documents_them(sdk: Any) -> None:
    items = {item.name: item for item in sdk.list_instances(ListInstancesRequest(limit=100, name="*redis")).instances}
    raw = json.loads(sdk.list_instances(ListInstancesRequest(limit=100)).raw_content)["instances"]
    plain = [item for item in raw if item["name"] not in ("lb-redis", "cn-redis")]
    assert all("lb_ip_address" not in item and "lb_port" not in item for item in plain)
    assert all("dedicated_resource_id" not in item for item in raw)
    assert items["lb-redis"].lb_ip_address == "10.0.0.9"
    assert items["cn-redis"].product_type == "Standard"
    assert all("product_type" not in item for item in raw if item["name"] != "cn-redis")
    engines = {item["datastore"]["type"] for item in raw}
    for engine in engines:
        specs = {
            n["spec_code"] for i in raw if i["datastore"]["type"] == engine for g in i["groups"] for n in g["nodes"]
        }
        assert all(f".{engine}." in spec for spec in specs), (engine, specs)


def test_our_list_instances_query_is_one_the_sdk_would_send(simulator: Simulator, ours: GeminiDBClient) -> None:
    since = len(simulator.exchanges)
    ours.list_instance_views()
    sdk_names = query_names(GaussDBforNoSQLClient._list_instances_http_info(ListInstancesRequest(offset=0, limit=1)))
    for exchange in our_requests(simulator, "GET /instances", since):
        assert set(exchange.query) <= sdk_names
        assert 1 <= int(exchange.query["limit"]) <= 100


# -- ShowInstanceRole ---------------------------------------------------------------------------------------


def test_show_instance_role_answers_master_or_slave_and_our_client_reads_it(
    simulator: Simulator, sdk: Any, ours: GeminiDBClient
) -> None:
    by_name = {item["name"]: item["id"] for item in simulator.fleet.instances}
    for name, role in (("dr-standby", "slave"), ("dr-primary", "master")):
        answer = sdk.show_instance_role(ShowInstanceRoleRequest(instance_id=by_name[name]))
        assert response_problems(answer) == []
        assert answer.role == role == ours.show_instance_role(by_name[name])
    assert refused(sdk.show_instance_role, ShowInstanceRoleRequest(instance_id="0" * 32 + "in06")).status_code == 404


# -- ListJobs -----------------------------------------------------------------------------------------------


def test_list_jobs_answers_parse_into_job_detail(sdk: Any) -> None:
    answer = sdk.list_jobs(ListJobsRequest(limit=10))
    assert response_problems(answer) == []
    assert {job.status for job in answer.jobs} == {"Running", "Completed", "Failed"}
    assert {job.name for job in answer.jobs} == {"UpgradeDbVersion"}


@pytest.mark.parametrize("limit", [1, 30, 100])
def test_list_jobs_refuses_limits_other_than_10_20_50(sdk: Any, limit: int) -> None:
    assert refused(sdk.list_jobs, ListJobsRequest(limit=limit)).error_code == "DBS.200001"


def test_list_jobs_refuses_a_span_over_30_days(sdk: Any) -> None:
    start, end = huawei_time(NOW - timedelta(days=31)), huawei_time(NOW)
    assert refused(sdk.list_jobs, ListJobsRequest(start_time=start, end_time=end)).status_code == 400


def test_our_job_queries_are_ones_the_sdk_would_send(simulator: Simulator, ours: GeminiDBClient) -> None:
    since = len(simulator.exchanges)
    ours.list_jobs(name="UpgradeDbVersion", status="Running", start_time=NOW - timedelta(days=29), end_time=NOW)
    full = ListJobsRequest(id="x", start_time="s", end_time="e", status="Running", name="n", offset=0, limit=50)
    sdk_names = query_names(GaussDBforNoSQLClient._list_jobs_http_info(full))
    for exchange in our_requests(simulator, "GET /jobs", since):
        assert set(exchange.query) <= sdk_names
        assert int(exchange.query["limit"]) in (10, 20, 50)


# -- ListBackups v4 and CreateBack ---------------------------------------------------------------------------


def test_list_backups_v4_answers_parse_into_the_sdk_models_and_match_our_client(sdk: Any, ours: GeminiDBClient) -> None:
    begin, end = NOW - timedelta(days=3), NOW + timedelta(seconds=1)
    answer = sdk.list_backups(ListBackupsRequest(begin_time=huawei_time(begin), end_time=huawei_time(end), limit=100))
    assert response_problems(answer) == []
    raw = json.loads(answer.raw_content)
    assert raw["total_count"] == 230 and len(raw["backups"]) == 100  # every instance has its automated backup
    assert {backup.status for backup in answer.backups} == {"COMPLETED"} and answer.backups[0].type == "Auto"
    starts = [backup.begin_time for backup in answer.backups]
    assert starts == sorted(starts, reverse=True)  # newest first, as offset counts from the newest
    ours_seen = ours.list_backups(began_since=begin, began_until=end)
    assert len(ours_seen) == 230 and {view.status for view in ours_seen} == {"COMPLETED"}


@pytest.mark.parametrize(
    "request_fields",
    [{"limit": 0}, {"limit": 101}, {"begin_time": huawei_time(NOW)}, {"end_time": huawei_time(NOW)},
     {"backup_type": "Weekly"}, {"begin_time": "2026-11-27 10:00:00", "end_time": huawei_time(NOW)}],
)  # fmt: skip
def test_list_backups_refuses_what_the_sdk_documents_as_invalid(sdk: Any, request_fields: dict[str, Any]) -> None:
    assert refused(sdk.list_backups, ListBackupsRequest(**request_fields)).status_code == 400


def test_our_backup_queries_and_body_are_ones_the_sdk_would_send(
    sdk: Any, simulator: Simulator, ours: GeminiDBClient
) -> None:
    since = len(simulator.exchanges)
    ours.list_backups(began_since=NOW - timedelta(days=1), began_until=NOW)
    full = ListBackupsRequest(instance_id="i", datastore_type="redis", backup_id="b", backup_type="Auto",
                              type="Instance", limit=100, offset=0, begin_time="s", end_time="e")  # fmt: skip
    sdk_names = query_names(GaussDBforNoSQLClient._list_backups_http_info(full))
    listed = our_requests(simulator, "GET /v4/backups", since)
    assert listed and all(set(e.query) <= sdk_names and 1 <= int(e.query["limit"]) <= 100 for e in listed)
    assert all({"begin_time", "end_time"} <= set(e.query) for e in listed)  # the API takes them only together
    target = simulator.fleet.instances[10]["id"]
    started = ours.create_backup(target, "before-patch-20261128-120000", "Before a GeminiDB patch")
    (created,) = our_requests(simulator, "POST /instances/{id}/backups", since)
    assert problems(created.body, "NoSqlCreateBackupRequestBody", nosql_model) == []
    assert started.job_id and started.backup_id
    jobs = sdk.list_jobs(ListJobsRequest(id=started.job_id))
    assert [(job.name, job.status) for job in jobs.jobs] == [("BackupInstance", "Running")]


def test_create_back_through_the_sdk_answers_its_model_and_refuses_bad_names(sdk: Any, simulator: Simulator) -> None:
    target = simulator.fleet.instances[20]["id"]
    body = NoSqlCreateBackupRequestBody(name="manual-contract", description="contract test")
    answer = sdk.create_back(CreateBackRequest(instance_id=target, body=body))
    assert response_problems(answer) == [] and answer.job_id and answer.backup_id
    building = sdk.list_backups(ListBackupsRequest(instance_id=target, backup_type="Manual"))
    assert [(b.id, b.status) for b in building.backups] == [(answer.backup_id, "BUILDING")]
    for name in ("abc", "1starts-with-digit", "x" * 65, "has space"):
        bad = CreateBackRequest(instance_id=simulator.fleet.instances[21]["id"],
                                body=NoSqlCreateBackupRequestBody(name=name))  # fmt: skip
        assert refused(sdk.create_back, bad).status_code == 400
    again = CreateBackRequest(instance_id=target, body=NoSqlCreateBackupRequestBody(name="second-one"))
    assert refused(sdk.create_back, again).error_code == "DBS.200019"  # its backup job still runs


# -- ListNosqlTaskList --------------------------------------------------------------------------------------


def test_scheduled_tasks_default_to_the_last_7_days_of_creation(sdk: Any, ours: GeminiDBClient) -> None:
    default = sdk.list_nosql_task_list(ListNosqlTaskListRequest(job_name="UPGRADE_DATABASE", job_status="Pending"))
    raw = json.loads(default.raw_content)
    # the SDK's ScheduleDetailInfo declares no fields and types total_count as str (known SDK defects), so the
    # items are checked against the fields Huawei's API page documents instead
    assert {problem.split(":")[0] for problem in response_problems(default)} <= {"$.total_count"} | {
        f"$.schedules[0].{name}" for name in DOCUMENTED_SCHEDULE_FIELDS
    }
    assert isinstance(raw["total_count"], int) and set(raw["schedules"][0]) == DOCUMENTED_SCHEDULE_FIELDS
    assert [task["job_id"] for task in raw["schedules"]] == ["task-recent"]
    wide = ListNosqlTaskListRequest(job_name="UPGRADE_DATABASE", start_time=huawei_time(NOW - timedelta(days=30)))
    assert {task["job_id"] for task in json.loads(sdk.list_nosql_task_list(wide).raw_content)["schedules"]} == {
        "task-recent",
        "task-8-days-old",
    }
    seen = ours.list_scheduled_tasks(job_status="Pending", created_since=NOW - timedelta(days=30))
    assert {task.task_id for task in seen} == {"task-recent", "task-8-days-old"}


def test_scheduled_task_limit_outside_1_to_100_is_refused(sdk: Any) -> None:
    assert refused(sdk.list_nosql_task_list, ListNosqlTaskListRequest(limit="101")).status_code == 400


# -- the tag query ------------------------------------------------------------------------------------------


def test_tag_query_with_matches_parses_and_agrees_with_our_client(
    simulator: Simulator, sdk: Any, ours: GeminiDBClient
) -> None:
    body = ListInstancesByTagsRequestBody(
        action="filter", offset="0", limit="100", tags=[TagOption(key="ring", values=["early"])]
    )
    answer = sdk.list_instances_by_resource_tags(ListInstancesByResourceTagsRequest(body=body))
    assert response_problems(answer) == []
    early = {item.instance_id for item in answer.instances}
    assert early and set(ours.list_instance_ids_by_tags({"ring": ["early"]})) == early
    name = answer.instances[0].instance_name
    body.matches = [MatchOption(key="instance_name", value=name)]
    narrowed = sdk.list_instances_by_resource_tags(ListInstancesByResourceTagsRequest(body=body))
    assert {item.instance_name for item in narrowed.instances} == {name}


@pytest.mark.parametrize(
    "body",
    [
        {"action": "filter", "matches": [{"key": "instance_ip", "value": "x"}]},
        {"action": "filter", "tags": [{"key": "k" * 37, "values": []}]},
        {"action": "filter", "tags": [{"key": " ", "values": []}]},
        {"action": "filter", "tags": [{"key": "ring", "values": ["v" * 44]}]},
        {"action": "filter", "limit": "101"},
        {"action": "count", "limit": "10"},
        {"action": "list"},
    ],
)
def test_tag_query_refuses_what_the_sdk_documents_as_invalid(sdk: Any, body: dict[str, Any]) -> None:
    model = ListInstancesByTagsRequestBody(**{k: v for k, v in body.items() if k not in ("tags", "matches")})
    model.tags = [TagOption(**tag) for tag in body.get("tags", [])] or None
    model.matches = [MatchOption(**match) for match in body.get("matches", [])] or None
    error = refused(sdk.list_instances_by_resource_tags, ListInstancesByResourceTagsRequest(body=model))
    assert error.error_code == "DBS.200001"


def test_our_tag_query_body_is_a_valid_sdk_body(simulator: Simulator, ours: GeminiDBClient) -> None:
    since = len(simulator.exchanges)
    ours.list_instance_ids_by_tags({"ring": ["early", "late"], "team": []})
    sent = our_requests(simulator, "POST /instances/resource-instances/action", since)
    assert sent and all(problems(e.body, "ListInstancesByTagsRequestBody", nosql_model) == [] for e in sent)


# -- BatchUpgradeDatabaseVersion ----------------------------------------------------------------------------


def fresh(count: int = 4, **document: Any) -> Simulator:
    rng = random.Random(21)
    items = [{"id": instance_id(rng), "name": f"c-{i}", "datastore": {"type": "cassandra"}} for i in range(count)]
    return Simulator({"instances": items, **document})


def test_batch_upgrade_mixed_results_parse_into_upgrade_result() -> None:
    with fresh(reject_upgrades={}) as simulator:
        ids = [item["id"] for item in simulator.fleet.instances]
        simulator.state.backend.instances[ids[1]]["datastore"]["patch_available"] = False
        simulator.state.backend.instances[ids[2]]["status"] = "frozen"
        body = BatchUpgradeDatabaseVersionRequestBody(instance_ids=ids[:3])
        answer = nosql_client(simulator).batch_upgrade_database_version(BatchUpgradeDatabaseVersionRequest(body=body))
        assert response_problems(answer) == []
        results = {item.instance_id: item for item in answer.upgrade_results}
        assert results[ids[0]].job_id and not results[ids[0]].error_code
        assert (results[ids[1]].error_code, results[ids[2]].error_code) == ("DBS.280236", "DBS.200011")
        assert all(results[i].error_message for i in ids[1:3])


def test_batch_upgrade_top_level_400s_reach_both_clients_with_the_same_code() -> None:
    with fresh(count=12) as simulator:
        ids = [item["id"] for item in simulator.fleet.instances]
        sdk_error = refused(
            nosql_client(simulator).batch_upgrade_database_version,
            BatchUpgradeDatabaseVersionRequest(body=BatchUpgradeDatabaseVersionRequestBody(instance_ids=ids[:11])),
        )
        assert (sdk_error.status_code, sdk_error.error_code) == (400, "DBS.200001")
        duplicated = BatchUpgradeDatabaseVersionRequestBody(instance_ids=[ids[0], ids[0]])
        assert (
            refused(
                nosql_client(simulator).batch_upgrade_database_version,
                BatchUpgradeDatabaseVersionRequest(body=duplicated),
            ).error_code
            == "DBS.200001"
        )
        with pytest.raises(ValueError, match="1 to 10"):  # ours refuses before sending
            make_client(simulator, Sleeps()).batch_upgrade(ids[:11])


def test_our_batch_body_is_a_valid_sdk_body() -> None:
    with fresh() as simulator:
        make_client(simulator, Sleeps()).batch_upgrade([item["id"] for item in simulator.fleet.instances[:2]])
        (sent,) = our_requests(simulator, "POST /instances/db-upgrade", 0)
        assert problems(sent.body, "BatchUpgradeDatabaseVersionRequestBody", nosql_model) == []


# -- IAM tokens ---------------------------------------------------------------------------------------------


def password_request(body: dict[str, Any]) -> KeystoneCreateUserTokenByPasswordRequest:
    """Our password body, rebuilt through the SDK's models (it refuses keys the model does not have)."""
    assert problems(body, "KeystoneCreateUserTokenByPasswordRequestBody", iam_model) == []
    auth = body["auth"]
    user = auth["identity"]["password"]["user"]
    return KeystoneCreateUserTokenByPasswordRequest(
        nocatalog="true",
        body=KeystoneCreateUserTokenByPasswordRequestBody(
            auth=iam_model.PwdAuth(
                identity=iam_model.PwdIdentity(
                    methods=["password"],
                    password=iam_model.PwdPassword(
                        user=iam_model.PwdPasswordUser(
                            name=user["name"],
                            password=user["password"],
                            domain=iam_model.PwdPasswordUserDomain(name=user["domain"]["name"]),
                        )
                    ),
                ),
                scope=iam_model.AuthScope(project=iam_model.AuthScopeProject(**auth["scope"]["project"])),
            )
        ),
    )


def agency_request(body: dict[str, Any]) -> KeystoneCreateAgencyTokenRequest:
    assert problems(body, "KeystoneCreateAgencyTokenRequestBody", iam_model) == []
    auth = body["auth"]
    role = auth["identity"]["assume_role"]
    return KeystoneCreateAgencyTokenRequest(
        nocatalog="true",
        body=KeystoneCreateAgencyTokenRequestBody(
            auth=iam_model.AgencyTokenAuth(
                identity=iam_model.AgencyTokenIdentity(
                    methods=["assume_role"],
                    assume_role=iam_model.AgencyTokenAssumerole(
                        domain_id=role["domain_id"], agency_name=role["agency_name"]
                    ),
                ),
                scope=iam_model.AgencyTokenScope(project=iam_model.AgencyTokenScopeProject(**auth["scope"]["project"])),
            )
        ),
    )


def test_agency_tokens_through_the_sdk_with_our_bodies(simulator: Simulator) -> None:
    credentials = simulator.fleet.credentials
    user = {"user": "ops", "password": "contract-pw-1", "domain": "acme"}
    own = password_request(password_token_body(**user, region=DEFAULT_REGION))
    issued = iam_client(simulator).keystone_create_user_token_by_password(own)
    assert issued.x_subject_token and issued.token.project.id == credentials.iam_user_project_id
    assert response_problems(issued, iam_model) == []
    assumed = agency_request(
        agency_token_body(domain_id="d" * 32, agency_name="geminidb-patcher", project_id=DEFAULT_PROJECT_ID)
    )
    agency_token = iam_client(simulator, issued.x_subject_token).keystone_create_agency_token(assumed)
    assert agency_token.token.project.id == DEFAULT_PROJECT_ID


def test_a_delegate_token_scoped_to_the_delegating_project_is_refused(simulator: Simulator) -> None:
    """The old agency flow: the delegate's password token named the target (delegating) account's project."""
    wrong = password_request(
        password_token_body(user="ops", password="contract-pw-1", domain="acme", project_id=DEFAULT_PROJECT_ID)
    )
    assert refused(iam_client(simulator).keystone_create_user_token_by_password, wrong).status_code == 401


def test_list_auth_projects_through_the_sdk_parses_into_its_model_and_our_reading_agrees(
    simulator: Simulator,
) -> None:
    answer = iam_client(simulator).keystone_list_auth_projects(KeystoneListAuthProjectsRequest())
    assert response_problems(answer, iam_model) == []
    region_project = next(p for p in answer.projects if not p.is_domain)
    assert (region_project.id, region_project.name) == (DEFAULT_PROJECT_ID, DEFAULT_REGION)
    credentials = simulator.fleet.credentials
    ours = list_auth_projects(
        JsonHttp(requests.Session(), Timeouts(1.0, 2.0), lambda: datetime.now(UTC)),
        simulator.base_url,
        AkSkAuth(AkSkSigner(credentials.ak, credentials.sk), None),
    )
    assert [(p.id, p.name, p.enabled, p.is_domain) for p in ours] == [
        (p.id, p.name, p.enabled, p.is_domain) for p in answer.projects
    ]


def test_geminidb_regions_are_the_sdks() -> None:
    assert set(GaussDBforNoSQLRegion.static_fields) == GEMINIDB_REGIONS


def test_iam_hosts_follow_the_sdk_tables() -> None:
    regions = list(GaussDBforNoSQLRegion.static_fields)
    assert len(regions) >= 27
    for region in regions:
        assert geminidb_endpoint(region) == GaussDBforNoSQLRegion.value_of(region).endpoints[0]
        iam = IamRegion.static_fields.get(region)
        assert iam_endpoint(region) == (iam.endpoints[0] if iam else IAM_GLOBAL_ENDPOINT), region
    for region in SmnRegion.static_fields:
        assert smn_endpoint(region) == SmnRegion.value_of(region).endpoints[0], region
    assert {r for r in regions if r not in IamRegion.static_fields} >= {
        "ap-southeast-5",
        "cn-north-11",
        "cn-south-4",
        "cn-southwest-3",
        "ru-northwest-2",
    }


# -- SMN ----------------------------------------------------------------------------------------------------


def topic(name: str = "patch-reports") -> str:
    return f"urn:smn:{DEFAULT_REGION}:{DEFAULT_PROJECT_ID}:{name}"


def publish(simulator: Simulator, urn: str, **body: Any) -> Any:
    request = PublishMessageRequest(topic_urn=urn, body=PublishMessageRequestBody(**body))
    return smn_client(simulator).publish_message(request)


def test_smn_publish_through_the_sdk(simulator: Simulator) -> None:
    answer = publish(simulator, topic(), subject="patch run", message="3 submitted")
    assert answer.message_id and response_problems(answer, smn_model) == []
    structured = json.dumps({"default": "3 submitted", "sms": "3 submitted"})
    assert publish(simulator, topic(), message_structure=structured).message_id
    templated = publish(simulator, topic(), message_template_name="patch-report", tags={"count": "3"})
    assert templated.message_id  # valid, although the function does not use templates


@pytest.mark.parametrize(
    ("urn", "body", "status", "code"),
    [
        (topic("no-such-topic"), {"message": "x"}, 404, "SMN.0006"),
        (topic(), {"message": "x", "time_to_live": "86401"}, 400, "SMN.0009"),
        (topic(), {"message": "x", "time_to_live": "0"}, 400, "SMN.0009"),
        (topic(), {"message_template_name": "unknown", "tags": {"a": "b"}}, 404, "SMN.0027"),
        (topic(), {"message_template_name": "patch-report", "tags": {"k" * 22: "v"}}, 400, "SMN.0009"),
        (topic(), {"message_structure": json.dumps({"email": "no default"})}, 400, "SMN.0021"),
    ],
)
def test_smn_refuses_what_the_sdk_documents_as_invalid(
    simulator: Simulator, urn: str, body: dict[str, Any], status: int, code: str
) -> None:
    with pytest.raises(ClientRequestException) as raised:
        publish(simulator, urn, **body)
    assert (raised.value.status_code, raised.value.error_code) == (status, code)


@pytest.mark.parametrize("run", [small_run, failing_run, large_run])
def test_our_smn_bodies_are_valid_sdk_bodies_and_accepted(simulator: Simulator, run: Any) -> None:
    body = smn.render(build_digest(run()))
    assert problems(body, "PublishMessageRequestBody", smn_model) == []
    assert publish(simulator, topic(), **body).message_id


def test_our_password_and_agency_bodies_match_the_sdk_models() -> None:
    for body in (  # the whole-account scopes that listing the account's projects uses
        password_token_body(user="u", password="p", domain="d", whole_account=True),
    ):
        assert problems(body, "KeystoneCreateUserTokenByPasswordRequestBody", iam_model) == []
    assert (
        problems(
            agency_token_body(domain_id="d", agency_name="a", project_id=None),
            "KeystoneCreateAgencyTokenRequestBody",
            iam_model,
        )
        == []
    )
    assert (
        problems(
            password_token_body(user="u", password="p", domain="d", project_id="0" * 32),
            "KeystoneCreateUserTokenByPasswordRequestBody",
            iam_model,
        )
        == []
    )
    assert (
        problems(
            password_token_body(user="u", password="p", domain="d", region="ap-southeast-1"),
            "KeystoneCreateUserTokenByPasswordRequestBody",
            iam_model,
        )
        == []
    )
    assert (
        problems(
            agency_token_body(domain_id="d", agency_name="a", project_id="0" * 32),
            "KeystoneCreateAgencyTokenRequestBody",
            iam_model,
        )
        == []
    )


def test_the_checker_itself_finds_unknown_fields_and_wrong_types() -> None:
    item = complete_instance({"id": "x", "datastore": {"type": "cassandra"}})
    assert problems(item, "ListInstancesResult", nosql_model) == []
    item["datastore"]["patch_available"] = "true"
    item["invented"] = 1
    found = problems(item, "ListInstancesResult", nosql_model)
    assert found == [
        "$.datastore.patch_available: str where the SDK declares bool",
        "$.invented: not a field of ListInstancesResult",
    ]
