"""Huawei's real variety through the real handler: odd IDs, faults inside one target or batch, site engines, refusals.

Each test here failed before the function was changed to pass it (issue "Fidelity II").
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment, simulator_wiring
from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator import Fault, Simulator, demo_fleet
from geminidb_local.simulator.fleet import instance_id
from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.request import Target
from geminidb_patcher.errors import InvalidRunRequestError
from geminidb_patcher.huawei.client import GeminiDBClient
from geminidb_patcher.huawei.permissions import permission_for
from geminidb_patcher.reconcile.ports import UpgradeResult
from tests.helpers import environment_for, handler_on

SECRET = new_webhook_secret()
SUBMIT_ROUTE = "POST /instances/db-upgrade"
HUAWEI_DR_EXAMPLE_ID = "054e292c9880d4992f02c0196d3ein12"
"""Huawei's own SwitchToSlave example: 28 hex digits, not the 32 of its other examples."""


def fleet(ids: Sequence[str], engine: str = "cassandra", **extra: Any) -> dict[str, Any]:
    instances = [{"id": i, "name": f"node-{n:02d}", "datastore": {"type": engine}} for n, i in enumerate(ids)]
    return {"instances": instances, **extra}


def random_ids(count: int, seed: int = 5) -> list[str]:
    rng = random.Random(seed)
    return [instance_id(rng) for _ in range(count)]


def apply_anytime(**fields: Any) -> dict[str, Any]:
    return {"mode": "apply", "window": "anytime", "max_in_flight": "100%", **fields}


def run(simulator: Simulator, event: dict[str, Any], **environ: str) -> dict[str, Any]:
    report: dict[str, Any] = handler_on(simulator, SECRET, sleep=lambda seconds: None, **environ)(event, LocalContext())
    return report


def posted(simulator: Simulator) -> list[str]:
    return [i for e in simulator.exchanges if e.route == SUBMIT_ROUTE for i in e.body["instance_ids"]]


# -- 1. no instance stops a run ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "odd_id",
    [HUAWEI_DR_EXAMPLE_ID, "0123456789ABCDEF0123456789ABCDEFin06", "0123456789abcdef0123456789abcdefin6"],
    ids=["28-hex", "capitals", "one-digit-suffix"],
)
def test_an_id_in_a_shape_huawei_never_promised_is_patched_like_any_other(odd_id: str) -> None:
    ids = [*random_ids(12), odd_id, *random_ids(3, seed=6)]
    with Simulator(fleet(ids)) as simulator:
        report = run(simulator, apply_anytime())
        assert report["counts"]["submitted"] == 16 and report["complete"] is True
        assert sorted(posted(simulator)) == sorted(ids)
        assert {o["instance_id"]: o["outcome"] for o in report["outcomes"]}[odd_id] == "submitted"


def test_a_caller_may_name_an_id_in_huaweis_other_shapes() -> None:
    with Simulator(fleet([HUAWEI_DR_EXAMPLE_ID, *random_ids(2)])) as simulator:
        report = run(simulator, apply_anytime(instance_ids=[HUAWEI_DR_EXAMPLE_ID]))
        assert posted(simulator) == [HUAWEI_DR_EXAMPLE_ID] and report["counts"]["submitted"] == 1


@pytest.mark.parametrize("bad", ["../instances", "a/b", "x?y=1", "in%2F", "", "-leading", "a" * 65])
def test_a_caller_given_id_that_is_not_path_safe_is_refused_naming_the_rule(bad: str) -> None:
    with Simulator(fleet(random_ids(2))) as simulator:
        with pytest.raises(InvalidRunRequestError, match="letters, digits, '-' or '_'"):
            run(simulator, apply_anytime(instance_ids=[bad]))
        assert not [e for e in simulator.exchanges if e.route == SUBMIT_ROUTE]


class FaultyClient:
    """A real client whose batch call raises an untranslated exception when the batch holds ``poisoned``."""

    def __init__(self, client: GeminiDBClient, poisoned: str) -> None:
        self._client = client
        self._poisoned = poisoned

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        if self._poisoned in instance_ids:
            raise KeyError("a bug met while sending this batch")
        return self._client.batch_upgrade(instance_ids)


class FaultyObservation(FaultyClient):
    """A real client whose instance listing raises an untranslated exception."""

    def list_instance_views(self) -> Any:
        raise AttributeError("a bug met while reading instances")


def faulty_handler(
    simulator: Simulator, wrap: Callable[[GeminiDBClient], Any], **extra: str
) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    environ = environment_for(simulator, SECRET, **extra)

    class FaultyWiring(Wiring):
        def client(self, target: Target, time_left: Callable[[], float] | None = None) -> Any:
            return wrap(super().client(target, time_left))

    base = simulator_wiring(simulator, environ, sleep=lambda seconds: None)
    wiring = FaultyWiring(base.settings, base.secrets, clock=simulator.state.clock.now, sleep=lambda seconds: None)
    return make_handler(environ, wiring)


def test_a_fault_inside_one_batch_fails_that_batch_and_the_run_still_reports_and_notifies(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = sorted(random_ids(25))
    with Simulator(fleet(ids)) as simulator:
        environ = simulator_environment(simulator, webhook_secret=SECRET)
        poisoned = ids[12]  # in the second of three batches (ordered by name = by position here)
        handler = faulty_handler(
            simulator,
            lambda client: FaultyClient(client, poisoned),
            NOTIFY_WEBHOOK_URL=environ["NOTIFY_WEBHOOK_URL"],
        )
        report = handler(apply_anytime(max_errors=100), LocalContext())
        failed = [o for o in report["outcomes"] if o["outcome"] == "failed"]
        assert len(failed) == 10 and {o["error_code"] for o in failed} == {"InternalError"}
        assert poisoned in {o["instance_id"] for o in failed}
        assert "KeyError while submitting a batch" in failed[0]["error_message"]
        assert "a bug met" not in str(report)  # the exception's own text never reaches the report
        assert report["counts"]["submitted"] == 15 and report["complete"] is False
        assert any("incomplete" in note for note in report["notes"])
        assert len(simulator.inbox) == 1, "the channel still heard of the run"
    assert '"RunsIncomplete":[1.0]' in capsys.readouterr().out


def test_a_fault_while_observing_one_target_is_that_targets_error() -> None:
    with Simulator(fleet(random_ids(3))) as simulator:
        handler = faulty_handler(simulator, lambda client: FaultyObservation(client, ""))
        report = handler(apply_anytime(), LocalContext())
        assert [e["error_code"] for e in report["errors"]] == ["InternalError"]
        assert "AttributeError while observing the target" in report["errors"][0]["error_message"]
        assert report["complete"] is False and not posted(simulator)


# -- 2. DR roles where Huawei documents them -------------------------------------------------------------------------


def cassandra_pair(tags: dict[str, str | None]) -> dict[str, Any]:
    standby, primary = random_ids(2, seed=11)
    document = fleet(random_ids(2))
    for name, own, peer in (("standby", standby, primary), ("primary", primary, standby)):
        item: dict[str, Any] = {"id": own, "name": f"dr-{name}", "datastore": {"type": "cassandra"}}
        item["dr_instance_id"] = peer
        if tags.get(name):
            item["tags"] = {"patch-dr-role": tags[name]}
        document["instances"].append(item)
    return document


def test_a_cassandra_pair_is_patched_standby_first_from_declared_roles_without_the_role_api() -> None:
    with Simulator(cassandra_pair({"standby": "standby", "primary": "primary"})) as simulator:
        report = run(simulator, apply_anytime())
        outcomes = {o["instance_name"]: o for o in report["outcomes"]}
        assert outcomes["dr-standby"]["outcome"] == "submitted"
        assert outcomes["dr-primary"]["reason"] == "waiting_for_dr_standby"
        assert not [e for e in simulator.exchanges if e.route == "GET /instances/{id}/instance-role"]


def test_an_undeclared_cassandra_pair_is_never_patched_and_the_detail_says_how_to_declare() -> None:
    with Simulator(cassandra_pair({})) as simulator:
        report = run(simulator, apply_anytime(), PATCHER_DR_ROLE_TAG="dr-side")
        outcomes = {o["instance_name"]: o for o in report["outcomes"]}
        for name in ("dr-standby", "dr-primary"):
            assert outcomes[name]["reason"] == "dr_role_unknown"
            assert "tag the standby dr-side=standby and the primary dr-side=primary" in outcomes[name]["detail"]
        assert report["counts"]["submitted"] == 2 and not {"dr-standby", "dr-primary"} & {
            o["instance_name"] for o in report["outcomes"] if o["outcome"] == "submitted"
        }


# -- 3. engines per site --------------------------------------------------------------------------------------------


def test_an_engine_the_site_does_not_patch_is_skipped_naming_the_site_and_never_submitted() -> None:
    rng = random.Random(8)
    items = [
        {"id": instance_id(rng), "name": f"{e}-{n}", "datastore": {"type": e}}
        for n, e in enumerate(["cassandra", "redis", "influxdb", "redis"])
    ]
    with Simulator({"instances": items}) as simulator:
        region = simulator.fleet.credentials.region
        report = run(simulator, apply_anytime(), GEMINIDB_PATCH_ENGINES=f'{{"{region}": ["cassandra", "influxdb"]}}')
        redis = [o for o in report["outcomes"] if o["engine"] == "redis"]
        assert {(o["outcome"], o["reason"]) for o in redis} == {("skipped", "unsupported_engine")}
        assert f"configured for {region}: cassandra, influxdb" in redis[0]["detail"]
        assert report["counts"]["submitted"] == 2 and report["rollout"]["errors_this_run"] == 0
        assert not {o["instance_id"] for o in redis} & set(posted(simulator))


# -- 4. ask within documented limits ----------------------------------------------------------------------------


def test_every_time_filtered_read_ends_now_and_spans_less_than_30_days_so_a_strict_server_answers() -> None:
    with Simulator(fleet(random_ids(4), behaviour={"strict_time_filters": True})) as simulator:
        simulator.state.faults.add(Fault(SUBMIT_ROUTE, "accept_then_status", status=500, times=1))
        report = run(simulator, apply_anytime(max_errors=10))
        assert report["errors"] == [] and report["counts"]["submitted"] == 4  # the re-check found the jobs too
        reads = [e for e in simulator.exchanges if e.route in ("GET /jobs", "GET /scheduled-jobs")]
        assert reads and all(e.status == 200 for e in reads)
        for exchange in reads:
            start, end = (
                datetime.strptime(exchange.query[k], "%Y-%m-%dT%H:%M:%S%z") for k in ("start_time", "end_time")
            )
            assert end - start <= timedelta(days=29)


# -- 5. whole-batch refusals; 6. the loser of an overlap; 12. a missing permission -----------------------------------


@pytest.mark.parametrize("code", ["DBS.200019", "DBS.200011", "DBS.200018"])
def test_a_whole_batch_refused_for_one_instances_state_costs_no_budget_and_the_rollout_goes_on(code: str) -> None:
    ids = sorted(random_ids(15))
    document = fleet(ids, behaviour={"state_refusal": "whole_batch"}, reject_upgrades={ids[3]: code})
    with Simulator(document) as simulator:
        report = run(simulator, apply_anytime())  # max_errors 0: one charged failure would halt everything
        outcomes = {o["instance_id"]: o for o in report["outcomes"]}
        first_batch = ids[:10]
        assert {(outcomes[i]["outcome"], outcomes[i]["reason"]) for i in first_batch} == {("skipped", "busy")}
        assert code in outcomes[ids[3]]["detail"] and "Not counted against max_errors" in outcomes[ids[3]]["detail"]
        assert report["counts"]["submitted"] == 5 and report["counts"]["failed"] == 0
        assert report["rollout"]["errors_this_run"] == 0 and not report["rollout"]["error_budget_exhausted"]


@pytest.mark.parametrize("code", ["DBS.201015", "DBS.280005"])
def test_per_item_busy_codes_cost_no_budget(code: str) -> None:
    ids = sorted(random_ids(4))
    with Simulator(fleet(ids, reject_upgrades={ids[0]: code})) as simulator:
        report = run(simulator, apply_anytime())
        assert report["counts"]["rejected"] == 1 and report["rollout"]["errors_this_run"] == 0


class RacingClient(FaultyClient):
    """Another actor submits the batch's first instance an instant before this run's call reaches Huawei."""

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        self._client.batch_upgrade([instance_ids[0]])
        return self._client.batch_upgrade(instance_ids)


def test_the_loser_of_an_overlap_reports_the_instance_upgrading_not_rejected(
    capsys: pytest.CaptureFixture[str],
) -> None:
    ids = sorted(random_ids(3))
    with Simulator(fleet(ids)) as simulator:
        report = faulty_handler(simulator, lambda client: RacingClient(client, ""))(apply_anytime(), LocalContext())
        first = next(o for o in report["outcomes"] if o["instance_id"] == ids[0])
        assert (first["outcome"], first["reason"]) == ("skipped", "upgrade_running")
        assert "DBS.200019" in first["detail"] and report["counts"]["rejected"] == 0
        assert report["counts"]["submitted"] == 2 and report["rollout"]["errors_this_run"] == 0
    assert '"InstancesRejected":[0.0]' in capsys.readouterr().out


def test_a_403_for_a_missing_permission_names_the_action_and_is_not_spent_as_instance_failures() -> None:
    ids = sorted(random_ids(12))
    denied = {"error_code": "APIG.0302", "error_msg": "The IAM user is not authorized to access the API."}
    with Simulator(fleet(ids)) as simulator:
        simulator.state.faults.add(Fault(SUBMIT_ROUTE, "status", status=403, body=denied, times=2))
        report = run(simulator, apply_anytime())
        failed = [o for o in report["outcomes"] if o["outcome"] == "failed"]
        assert len(failed) == 12 and {o["error_code"] for o in failed} == {"PermissionDenied"}
        assert "grant gaussdbfornosql:instance:batchUpgradeDatabaseVersion (identity policy)" in failed[0]["detail"]
        assert report["rollout"]["errors_this_run"] == 0 and not report["rollout"]["error_budget_exhausted"]


def test_a_403_while_observing_names_the_call_and_the_action() -> None:
    denied = {"error_code": "APIG.0302", "error_msg": "The IAM user is not authorized to access the API."}
    with Simulator(fleet(random_ids(2))) as simulator:
        simulator.state.faults.add(Fault("GET /jobs", "status", status=403, body=denied, times=10))
        report = run(simulator, apply_anytime())
        (error,) = report["errors"]
        assert "ListJobs was refused (403): grant gaussdbfornosql:task:list" in error["error_message"]
        assert not posted(simulator)


# -- 8. no instance silently missing -------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["new_instance", "remove_instance"])
def test_an_instance_created_or_deleted_while_paging_leaves_none_that_exists_throughout_unreported(kind: str) -> None:
    ids = random_ids(250)
    with Simulator(fleet(ids)) as simulator:
        simulator.state.faults.add(Fault("GET /instances", kind, skip=1))  # between the first and second page
        report = run(simulator, {"mode": "plan", "window": "anytime", "max_in_flight": "100%"})
        existing = set(ids) & {i["id"] for i in simulator.state.backend.snapshot()["instances"]}
        reported = [o["instance_id"] for o in report["outcomes"]]
        assert len(reported) == len(set(reported)) and existing <= set(reported)
        assert report["errors"] == [] and report["complete"] is True


def test_a_list_that_never_settles_marks_the_target_incomplete_and_submits_nothing_there() -> None:
    with Simulator(fleet(random_ids(250))) as simulator:
        simulator.state.faults.add(Fault("GET /instances", "new_instance", skip=1, times=1000))
        report = run(simulator, apply_anytime())
        (error,) = report["errors"]
        assert "kept changing while it was paged" in error["error_message"] and report["complete"] is False
        assert not posted(simulator)


def test_every_call_a_run_makes_has_an_iam_permission_the_policies_grant() -> None:
    with Simulator(demo_fleet()) as simulator:
        run(simulator, apply_anytime(selector={"tags": {"tier": ["canary"]}}))
        run(simulator, apply_anytime())
        project = simulator.fleet.credentials.project_id
        calls = {(e.method, e.path.split(f"/v3/{project}", 1)[1]) for e in simulator.exchanges if project in e.path}
        assert {"/instances/resource-instances/action", "/instances/db-upgrade"} <= {path for _, path in calls}
        assert any(path.endswith("/instance-role") for _, path in calls)
        assert [call for call in calls if permission_for(*call) is None] == []
