"""A fresh backup before each patch, through the real handler, the real client and the simulator over loopback."""

from __future__ import annotations

import random
import threading
from collections import Counter
from typing import Any

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Fault, Simulator
from tests.helpers import LEASE_CREDENTIALS, handler_on, lease_table, make_instance

SECRET = new_webhook_secret()
SUBMIT = "POST /instances/db-upgrade"
CREATE_BACKUP = "POST /instances/{id}/backups"
LIST_BACKUPS = "GET /v4/backups"


def fleet(ages: list[float | None]) -> dict[str, Any]:
    """Cassandra instances whose last automated backup ended ``ages`` hours ago (``None``: none at all)."""
    rng = random.Random(5)
    return {
        "instances": [make_instance(rng, "cassandra", backup_age_hours=age) for age in ages],
        "behaviour": {"backup_minutes": 30},
    }


def apply(**backup: Any) -> dict[str, Any]:
    return {"mode": "apply", "window": "anytime", "max_in_flight": "100%", "backup": {"within": "PT24H", **backup}}


def outcomes(report: dict[str, Any]) -> dict[str, tuple[str, str | None]]:
    return {o["instance_id"]: (o["outcome"], o.get("reason")) for o in report["outcomes"]}


def routes(simulator: Simulator, route: str) -> list[Any]:
    return [e for e in simulator.exchanges if e.route == route]


def test_an_instance_without_a_recent_backup_is_never_submitted_and_the_detail_says_when_its_last_ended() -> None:
    with Simulator(fleet([2, 30, None])) as simulator:
        fresh, stale, never = (item["id"] for item in simulator.fleet.instances)
        handler = handler_on(simulator, SECRET)

        report = handler(apply(), LocalContext())

        assert outcomes(report)[fresh][0] == "submitted"
        assert outcomes(report)[stale] == outcomes(report)[never] == ("skipped", "no_recent_backup")
        submitted = {i for e in routes(simulator, SUBMIT) for i in e.body["instance_ids"]}
        assert submitted == {fresh}
        details = {o["instance_id"]: o["detail"] for o in report["outcomes"]}
        assert "its last completed full backup ended" in details[stale] and "last 24 h" in details[stale]
        assert "no completed full backup" in details[never]
        assert routes(simulator, CREATE_BACKUP) == []  # create is false: nothing but the listing
        (listing,) = routes(simulator, LIST_BACKUPS)
        assert set(listing.query) >= {"begin_time", "end_time", "offset", "limit"}
        assert any(s["waiting_for"] == "backup" and s["instances"] == 2 for s in report["next_steps"])


def test_with_create_a_backup_is_started_once_and_the_instance_patched_on_the_first_run_after_it_completed() -> None:
    with Simulator(fleet([30, 2])) as simulator:
        stale, fresh = (item["id"] for item in simulator.fleet.instances)
        handler = handler_on(simulator, SECRET)

        plan = handler({**apply(create=True), "mode": "plan"}, LocalContext())
        assert outcomes(plan)[stale] == ("skipped", "no_recent_backup") and routes(simulator, CREATE_BACKUP) == []
        assert "An apply starts a manual backup first" in next(
            o["detail"] for o in plan["outcomes"] if o["instance_id"] == stale
        )

        first = handler(apply(create=True), LocalContext())
        (created,) = routes(simulator, CREATE_BACKUP)
        assert created.path.endswith(f"/instances/{stale}/backups") and created.body["name"].startswith("before-patch-")
        assert outcomes(first)[stale] == ("skipped", "backup_running") and outcomes(first)[fresh][0] == "submitted"
        assert first["rollout"]["errors_this_run"] == 0

        second = handler(apply(create=True), LocalContext())  # the backup job still runs: busy, none started
        assert len(routes(simulator, CREATE_BACKUP)) == 1
        assert outcomes(second)[stale] == ("skipped", "busy")

        simulator.state.clock.advance(31 * 60)
        third = handler(apply(create=True), LocalContext())
        assert len(routes(simulator, CREATE_BACKUP)) == 1
        assert outcomes(third)[stale][0] == "submitted"
        jobs = Counter(
            job["name"] for job in simulator.state.backend.snapshot()["jobs"] if job["instance"]["id"] == stale
        )
        assert jobs == {"BackupInstance": 1, "UpgradeDbVersion": 1}


def test_a_backup_that_cannot_be_started_is_not_a_failed_upgrade_and_the_next_run_tries_again() -> None:
    with Simulator(fleet([30, 2])) as simulator:
        stale, fresh = (item["id"] for item in simulator.fleet.instances)
        simulator.state.faults.add(Fault(CREATE_BACKUP, "status", status=403, times=1,
                                         body={"error_code": "DBS.200019", "error_msg": "busy"}))  # fmt: skip
        handler = handler_on(simulator, SECRET)

        first = handler(apply(create=True), LocalContext())
        second = handler(apply(create=True), LocalContext())

        assert outcomes(first)[stale] == ("skipped", "backup_failed")
        assert first["rollout"]["errors_this_run"] == 0 and not first["rollout"]["error_budget_exhausted"]
        assert outcomes(first)[fresh][0] == "submitted"  # max_errors 0 and yet the rollout went on
        assert outcomes(second)[stale] == ("skipped", "backup_running") and len(routes(simulator, CREATE_BACKUP)) == 2


def test_two_overlapping_applies_start_one_backup(dynamodb_endpoint: str) -> None:
    with Simulator(fleet([30, 30, 30])) as simulator:
        simulator.state.faults.add(Fault(CREATE_BACKUP, "delay", delay=0.5, times=3))
        extra = {
            "PATCHER_LOCK_TABLE": lease_table(dynamodb_endpoint).table,
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_endpoint,
            "PATCHER_LOCK_WAIT_SECONDS": "5",
            **LEASE_CREDENTIALS,
        }
        handlers = [handler_on(simulator, SECRET, **extra) for _ in range(2)]
        barrier = threading.Barrier(2)
        reports: list[Any] = [None, None]

        def run(index: int) -> None:
            barrier.wait()
            reports[index] = handlers[index](apply(create=True), LocalContext(aws_request_id=f"run-{index}"))

        threads = [threading.Thread(target=run, args=(index,)) for index in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        created = Counter(e.path for e in routes(simulator, CREATE_BACKUP))
        assert len(created) == 3 and set(created.values()) == {1}  # each instance's backup started once
        reasons = [set(outcomes(report).values()) for report in reports]
        assert {("skipped", "backup_running")} in reasons  # the first holder started them
        assert routes(simulator, SUBMIT) == []
