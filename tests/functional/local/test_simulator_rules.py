"""The simulator refuses what Huawei refuses (or, where Huawei is silent, what docs/fidelity.md says it assumes)."""

from __future__ import annotations

import random
import threading
from datetime import timedelta
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Simulator
from geminidb_local.simulator.fleet import instance_id
from geminidb_patcher.huawei.client import huawei_time
from geminidb_patcher.huawei.errors import HuaweiError
from tests.helpers import Sleeps, handler_on, make_client

SECRET = new_webhook_secret()


def fleet(count: int = 3, **extra: Any) -> dict[str, Any]:
    rng = random.Random(31)
    items = [{"id": instance_id(rng), "name": f"node-{n}", "datastore": {"type": "cassandra"}} for n in range(count)]
    return {"instances": items, **extra}


def call(simulator: Simulator, method: str, path: str, **kwargs: Any) -> tuple[int, dict[str, Any]]:
    """One signed call through the project's own client (its signer and transport), answering status and body."""
    client = make_client(simulator, Sleeps())
    try:
        response = client._http.request(method, client._base + path, auth=client._auth, **kwargs)
    except HuaweiError as error:  # the client's typed error carries what Huawei answered
        return int(getattr(error, "status", 0) or 0), {"error_code": error.error_code}
    return response.status, response.body


def test_an_immediate_upgrade_of_an_instance_with_a_pending_scheduled_upgrade_is_refused() -> None:
    document = fleet()
    target = document["instances"][0]["id"]
    document["scheduled_tasks"] = [{"instance_id": target, "job_status": "Pending"}]
    with Simulator(document) as simulator:
        status, body = call(simulator, "POST", "/instances/db-upgrade", body={"instance_ids": [target]})
        assert status == 202 and body["upgrade_results"][0]["error_code"] == "DBS.200019"


def test_a_scheduled_upgrade_starts_its_job_when_its_window_comes_and_the_task_follows_the_job() -> None:
    document = fleet()
    target = document["instances"][0]["id"]
    with Simulator(document) as simulator:
        start = simulator.state.clock.now() + timedelta(hours=1)
        document_task = {"instance_id": target, "job_status": "Pending", "start_time": huawei_time(start)}
        simulator.fleet.scheduled_tasks.append(document_task)
        simulator.state.backend.__post_init__()  # re-index the seeded task as a fresh backend would
        tasks = "/scheduled-jobs"
        assert call(simulator, "GET", tasks)[1]["schedules"][0]["job_status"] == "Pending"
        simulator.state.clock.advance(3600)
        assert call(simulator, "GET", tasks)[1]["schedules"][0]["job_status"] == "Running"
        running = call(simulator, "GET", "/jobs", query=[("status", "Running")])[1]["jobs"]
        assert [job["instance"]["id"] for job in running] == [target]
        simulator.state.clock.advance(3 * 3600)
        assert call(simulator, "GET", tasks)[1]["schedules"][0]["job_status"] == "Completed"
        instance = next(i for i in simulator.state.backend.snapshot()["instances"] if i["id"] == target)
        assert instance["datastore"]["patch_available"] is False


def test_a_batch_body_with_an_unknown_key_is_refused() -> None:
    with Simulator(fleet()) as simulator:
        ids = [i["id"] for i in simulator.fleet.instances][:1]
        status, body = call(simulator, "POST", "/instances/db-upgrade", body={"instance_ids": ids, "force": True})
        assert (status, body["error_code"]) == (400, "DBS.200001")


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/jobs", "status", "Pending"),
        ("/jobs", "name", "Upgrade"),
        ("/scheduled-jobs", "job_name", "UpgradeDbVersion"),
        ("/scheduled-jobs", "job_status", "Done"),
        ("/instances", "datastore_type", "Cassandra"),
    ],
)
def test_filter_values_outside_the_documented_ones_are_refused(path: str, name: str, value: str) -> None:
    with Simulator(fleet()) as simulator:
        assert call(simulator, "GET", path, query=[(name, value)]) == (400, {"error_code": "DBS.200001"})


def test_a_batch_of_an_engine_the_api_cannot_patch_is_404_as_the_error_table_says() -> None:
    rng = random.Random(4)
    document = {"instances": [{"id": instance_id(rng), "name": "m", "datastore": {"type": "mongodb"}}]}
    with Simulator(document) as simulator:
        ids = [simulator.fleet.instances[0]["id"]]
        assert call(simulator, "POST", "/instances/db-upgrade", body={"instance_ids": ids}) == (
            404,
            {"error_code": "DBS.200042"},
        )


@pytest.mark.parametrize(("atomic", "jobs"), [(True, 1), (False, 2)])
def test_a_non_atomic_server_lets_two_racing_calls_both_start_an_upgrade(atomic: bool, jobs: int) -> None:
    with Simulator(fleet(1, behaviour={"atomic_upgrade_check": atomic})) as simulator:
        ids = [simulator.fleet.instances[0]["id"]]
        threads = [
            threading.Thread(
                target=call, args=(simulator, "POST", "/instances/db-upgrade"), kwargs={"body": {"instance_ids": ids}}
            )
            for _ in range(2)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(simulator.state.backend.snapshot()["jobs"]) == jobs


def test_the_function_never_sends_what_the_strict_simulator_refuses() -> None:
    with Simulator(fleet(behaviour={"strict_time_filters": True})) as simulator:
        report = handler_on(simulator, SECRET, sleep=lambda s: None)(
            {"mode": "apply", "window": "anytime"}, LocalContext()
        )
        assert report["errors"] == [] and all(e.status < 400 for e in simulator.exchanges)
