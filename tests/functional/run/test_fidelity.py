"""The fidelity fixes through the real handler, and every "assumed" row of docs/fidelity.md played both ways.

Where the docs leave a fact open, the simulator can play each alternative (its fleet file's ``behaviour``, or a
fault); the function must stay safe under every one: nothing submitted twice, limits held, failures halting.
"""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Fault, Simulator
from geminidb_local.simulator.fleet import DEFAULT_REGION, instance_id
from geminidb_patcher.entrypoints.handler import Handler
from geminidb_patcher.huawei.client import huawei_time
from tests.helpers import handler_on, make_instance

SECRET = new_webhook_secret()
ROLE_ROUTE = "GET /instances/{id}/instance-role"
SUBMIT_ROUTE = "POST /instances/db-upgrade"


def handler_for(simulator: Simulator, **environ: str) -> Handler:
    """The real handler on the simulator's clock; its pauses (retries, re-reading jobs) return at once."""
    return handler_on(simulator, SECRET, sleep=lambda seconds: None, **environ)


def fleet(count: int = 6, engines: tuple[str, ...] = ("cassandra",), seed: int = 3, **extra: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    instances = [
        {"id": instance_id(rng), "name": f"node-{n:02d}", "datastore": {"type": engines[n % len(engines)]}}
        for n in range(count)
    ]
    return {"instances": instances, **extra}


def dr_fleet(**extra: Any) -> dict[str, Any]:
    """Four Cassandra instances and a Redis DR pair (ShowInstanceRole is documented for Redis only)."""
    document = fleet(4, **extra)
    rng = random.Random(99)
    standby, primary = instance_id(rng), instance_id(rng)
    redis = {"type": "redis"}
    document["instances"] += [
        {"id": standby, "name": "dr-standby", "datastore": redis, "dr_instance_id": primary, "dr_role": "slave"},
        {"id": primary, "name": "dr-primary", "datastore": redis, "dr_instance_id": standby, "dr_role": "master"},
    ]
    return document


def by_name(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {outcome["instance_name"]: outcome for outcome in report["outcomes"]}


def posts(simulator: Simulator) -> list[list[str]]:
    return [list(e.body["instance_ids"]) for e in simulator.exchanges if e.route == SUBMIT_ROUTE]


def jobs_per_instance(simulator: Simulator) -> Counter[str]:
    return Counter(job["instance"]["id"] for job in simulator.state.backend.snapshot()["jobs"])


APPLY = {"mode": "apply", "window": "anytime", "max_in_flight": "100%"}


# -- the fixes ----------------------------------------------------------------------------------------------


def test_dr_roles_are_read_from_the_role_api_once_per_member_per_run() -> None:
    with Simulator(dr_fleet()) as simulator:
        handler = handler_for(simulator)
        for run in (1, 2):
            report = handler({"mode": "plan", "window": "anytime"}, LocalContext())
            outcomes = by_name(report)
            assert outcomes["dr-standby"]["outcome"] == "planned"
            assert outcomes["dr-primary"]["reason"] == "waiting_for_dr_standby"
            asked = [e.path.split("/")[-2] for e in simulator.exchanges if e.route == ROLE_ROUTE]
            assert len(asked) == 2 * run  # only the two pair members, once each per run
        dr_ids = {i["id"] for i in simulator.fleet.instances if i.get("dr_instance_id")}
        assert set(asked) == dr_ids


def test_dr_pair_waits_with_the_reason_when_the_role_api_fails() -> None:
    with Simulator(dr_fleet()) as simulator:
        fault = {"error_code": "APIG.0101", "error_msg": "The API does not exist or has not been published."}
        simulator.state.faults.add(Fault(ROLE_ROUTE, "status", status=404, body=fault, times=2))
        report = handler_for(simulator)(APPLY, LocalContext())
        outcomes = by_name(report)
        for name in ("dr-standby", "dr-primary"):
            assert outcomes[name]["reason"] == "dr_role_unknown"
            assert "role query failed (404 APIG.0101" in outcomes[name]["detail"]
        assert report["counts"]["submitted"] == 4  # the rest of the fleet goes on
        assert not {"dr-standby", "dr-primary"} & {o["instance_name"] for o in report["outcomes"] if o.get("job_id")}


def test_a_pending_upgrade_created_8_days_ago_blocks_an_immediate_one() -> None:
    document = fleet(2)
    target = document["instances"][0]["id"]
    created = huawei_time(datetime.now(UTC) - timedelta(days=8))
    document["scheduled_tasks"] = [{"instance_id": target, "job_id": "task-old", "create_time": created}]
    with Simulator(document) as simulator:
        report = handler_for(simulator)({**APPLY, "instance_ids": [target]}, LocalContext())
        (outcome,) = report["outcomes"]
        assert (outcome["outcome"], outcome["reason"]) == ("skipped", "upgrade_scheduled")
        assert "task-old" in outcome["detail"] and posts(simulator) == []
        (listing,) = [e for e in simulator.exchanges if e.route == "GET /scheduled-jobs"]
        assert {"start_time", "end_time"} <= set(listing.query)


AGENCY = {
    "iam_user": "delegate",
    "iam_password": "agency-password-1",
    "iam_domain": "ops-account",
    "iam_user_project_id": "fedcba9876543210fedcba9876543210",
    "agency_domain_id": "d" * 32,
    "agency_name": "geminidb-patcher",
}


def test_agency_tokens_patch_the_delegating_accounts_project() -> None:
    with Simulator(fleet(3, credentials=AGENCY)) as simulator:
        handler = handler_for(
            simulator,
            HUAWEICLOUD_SDK_AK="",
            HUAWEICLOUD_SDK_SK="",
            HUAWEICLOUD_IAM_USER=AGENCY["iam_user"],
            HUAWEICLOUD_IAM_PASSWORD=AGENCY["iam_password"],
            HUAWEICLOUD_IAM_DOMAIN=AGENCY["iam_domain"],
            HUAWEICLOUD_IAM_AGENCY_DOMAIN_ID=AGENCY["agency_domain_id"],
            HUAWEICLOUD_IAM_AGENCY_NAME=AGENCY["agency_name"],
        )
        report = handler(APPLY, LocalContext())
        assert report["errors"] == [] and report["counts"]["submitted"] == 3
        scopes = [e.body["auth"]["scope"]["project"] for e in simulator.exchanges if e.path == "/v3/auth/tokens"]
        assert scopes == [{"name": DEFAULT_REGION}, {"id": simulator.fleet.credentials.project_id}]


# -- assumptions, both ways ---------------------------------------------------------------------------------


@pytest.mark.parametrize("job_name", ["UpgradeDbVersion", "BatchUpgradeDatabaseVersion"])
@pytest.mark.parametrize("action", ["UPGRADE_DATABASE", ""])
def test_patch_jobs_and_actions_either_way_nothing_twice_limits_held_failures_halt(job_name: str, action: str) -> None:
    document = fleet(8, behaviour={"upgrade_job_name": job_name, "upgrade_action": action})
    document["failing_upgrades"] = {document["instances"][0]["id"]: "simulated failure"}
    with Simulator(document) as simulator:
        handler = handler_for(simulator)
        request = {"mode": "apply", "window": "anytime", "max_in_flight": 3}
        first = handler(request, LocalContext())
        assert first["counts"]["submitted"] == 3
        second = handler(request, LocalContext())  # the jobs are still running
        assert second["rollout"]["in_flight_before"] == 3 and second["counts"]["submitted"] == 0
        simulator.state.clock.advance(3 * 3600)  # every job has ended; node-00's failed
        third = handler(request, LocalContext())
        assert third["rollout"]["errors_before"] == 1 and third["rollout"]["error_budget_exhausted"]
        assert third["counts"]["submitted"] == 0
        assert by_name(third)["node-00"]["reason"] == "last_upgrade_failed"
        assert max(jobs_per_instance(simulator).values()) == 1


@pytest.mark.parametrize(("code", "halts"), [("DBS.280236", False), ("DBS.200047", True)])
def test_no_patch_refusal_code_either_way_is_reported_and_never_resent(code: str, halts: bool) -> None:
    document = fleet(12, behaviour={"no_patch_code": code})
    document["reject_upgrades"] = {document["instances"][0]["id"]: code}  # the API says "no patch" for node-00
    with Simulator(document) as simulator:
        report = handler_for(simulator, SUBMIT_CONCURRENCY="1")(APPLY, LocalContext())
        assert by_name(report)["node-00"]["outcome"] == "rejected"
        assert by_name(report)["node-00"]["error_code"] == code
        sent = [i for batch in posts(simulator) for i in batch]
        assert len(sent) == len(set(sent))
        # a "not now" code costs no budget; an unknown code is counted, and the second batch is not sent
        assert report["counts"]["submitted"] == (11 if not halts else 9)
        assert len(posts(simulator)) == (1 if halts else 2)


@pytest.mark.parametrize("mode", ["400", "per_item"])
def test_mixed_engine_batches_are_never_sent_whichever_way_huawei_treats_them(mode: str) -> None:
    engines = ("cassandra", "influxdb", "redis")
    with Simulator(fleet(15, engines, behaviour={"mixed_engine_batch": mode})) as simulator:
        report = handler_for(simulator)(APPLY, LocalContext())
        engine_of = {i["id"]: i["datastore"]["type"] for i in simulator.fleet.instances}
        assert all(len({engine_of[i] for i in batch}) == 1 for batch in posts(simulator))
        assert report["counts"]["submitted"] == 15


@pytest.mark.parametrize("answer", [(401, "APIG.0301"), (403, "DBS.200010"), (400, "DBS.200010")])
def test_a_project_the_credentials_do_not_own_is_an_error_and_changes_nothing(answer: tuple[int, str]) -> None:
    with Simulator(fleet(3, behaviour={"project_mismatch": list(answer)})) as simulator:
        other = {"region": DEFAULT_REGION, "project_id": "f" * 32}
        report = handler_for(simulator)({**APPLY, "targets": [other]}, LocalContext())
        assert report["outcomes"] == [] and posts(simulator) == []
        (error,) = report["errors"]
        assert error["project_id"] == "f" * 32 and error["error_code"] == answer[1]


@pytest.mark.parametrize("accepted", [True, False])
def test_system_busy_on_the_batch_call_either_way_is_resolved_by_reading_jobs(accepted: bool) -> None:
    body = {"error_code": "DBS.200998", "error_msg": "The system is busy."}
    with Simulator(fleet(4)) as simulator:
        kind = "accept_then_status" if accepted else "status"
        simulator.state.faults.add(Fault(SUBMIT_ROUTE, kind, status=500, body=body))  # type: ignore[arg-type]
        report = handler_for(simulator)(APPLY, LocalContext())
        assert len(posts(simulator)) == 1  # never resent
        expected = "submitted" if accepted else "failed"
        assert {o["outcome"] for o in report["outcomes"]} == {expected}
        assert sum(jobs_per_instance(simulator).values()) == (4 if accepted else 0)


def test_a_task_listing_span_huawei_might_refuse_fails_the_target_safely() -> None:
    with Simulator(fleet(3, behaviour={"scheduled_task_max_span_days": 7})) as simulator:
        report = handler_for(simulator)(APPLY, LocalContext())
        assert report["outcomes"] == [] and posts(simulator) == []
        assert report["errors"][0]["error_code"] == "DBS.200001"


def test_a_fleet_giving_another_engine_than_cassandra_a_whole_version_is_refused() -> None:
    """The SDK documents ``whole_version`` as Cassandra's only, so the simulator never serves one elsewhere."""
    rng = random.Random(1518)
    redis = make_instance(rng, "redis")
    redis["datastore"]["whole_version"] = "6.2.0.7"
    with pytest.raises(ValueError, match=r"whole_version is only populated for GeminiDB Cassandra"):
        Simulator({"instances": [redis]})
    cassandra = make_instance(rng, "cassandra")
    cassandra["datastore"]["whole_version"] = "3.11.5.5"
    with Simulator({"instances": [cassandra]}) as simulator:
        assert simulator.fleet.instances[0]["datastore"]["whole_version"] == "3.11.5.5"
