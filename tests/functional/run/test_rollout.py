"""Rollouts through the real handler against the simulator while its clock moves: waves, limits, error budget."""

from __future__ import annotations

import contextlib
import io
import json
import random
import threading
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geminidb_local.environment import new_webhook_secret, simulator_environment, simulator_wiring
from geminidb_local.lambda_shim import LocalContext, make_handler, signed_run_event
from geminidb_local.simulator import Simulator
from geminidb_local.simulator.fleet import current_window, instance_id
from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.entrypoints.handler import Handler
from geminidb_patcher.errors import PlanChangedError
from geminidb_patcher.run.patcher import RunContext

SECRET = new_webhook_secret()
MAX_IN_FLIGHT = 40
WAVES = [
    {"name": "canary", "selector": {"tags": {"ring": ["canary"]}}},
    {"name": "early", "selector": {"name": "*early"}},
    {"name": "rest", "selector": {}},
]
ROLLOUT = {"mode": "apply", "max_in_flight": MAX_IN_FLIGHT, "bake": "PT1H", "waves": WAVES}


def rollout_fleet(count: int, seed: int, now: Any, **extra: Any) -> dict[str, Any]:
    """``count`` instances over three engines: 10 canaries (by tag), 50 'early', the rest; two window slots."""
    rng = random.Random(seed)
    engines = ["cassandra", "influxdb", "redis"]
    instances = []
    for number in range(count):
        name = f"canary-{number:03d}" if number < 10 else f"early-{number:03d}" if number < 60 else f"main-{number:03d}"
        instances.append(
            {
                "id": instance_id(rng),
                "name": name,
                "datastore": {"type": engines[number % 3], "patch_available": True},
                "maintenance_window": current_window(now, -1 if number % 3 else 11),
                "tags": {"ring": "canary"} if number < 10 else {"ring": "main"},
            }
        )
    return {"instances": instances, **extra}


def handler_for(simulator: Simulator) -> Handler:
    environ = simulator_environment(simulator, webhook_secret=SECRET)
    environ.pop("NOTIFY_WEBHOOK_URL")
    return make_handler(environ, simulator_wiring(simulator, environ))


def scheduled(request: dict[str, Any], number: int) -> dict[str, Any]:
    return {**request, "scheduler": {"execution_id": f"rollout-{number}"}}


def wave_of(name: str) -> int:
    return 0 if name.startswith("canary") else 1 if name.startswith("early") else 2


def quietly(handler: Handler, event: dict[str, Any]) -> dict[str, Any]:
    with contextlib.redirect_stdout(io.StringIO()):
        return handler(event, LocalContext(timeout_ms=60_000))


@pytest.mark.slow
def test_rollout_of_210_instances_in_three_waves_converges_in_order_within_limits() -> None:
    # GIVEN 210 instances, three waves, two window slots, and an hourly-ish schedule
    with Simulator(rollout_fleet(210, 1, now=datetime.now(UTC))) as sim:
        handler = handler_for(sim)
        names = {i["id"]: i["name"] for i in sim.fleet.instances}
        reports = []
        for number in range(400):
            report = quietly(handler, scheduled(ROLLOUT, number))
            reports.append(report)
            running = sum(1 for j in sim.state.backend.jobs if j.status == "Running")
            # THEN never more than max_in_flight upgrading at once
            assert running <= MAX_IN_FLIGHT
            assert all(sum(report["counts"].values()) == 210 for report in reports[-1:])
            if not any(i["datastore"]["patch_available"] for i in sim.state.backend.snapshot()["instances"]):
                break
            sim.state.clock.advance(1800)
        jobs = list(sim.state.backend.jobs)
    # AND it converged: every instance patched by exactly one job
    assert Counter(j.instance_id for j in jobs) == Counter(set(names))
    assert all(j.status == "Completed" for j in jobs)
    # AND a wave's first job started only after the previous wave's last job ended and baked
    ends = {w: max(j.start + j.duration for j in jobs if wave_of(names[j.instance_id]) == w) for w in range(3)}
    starts = {w: min(j.start for j in jobs if wave_of(names[j.instance_id]) == w) for w in range(3)}
    assert starts[1] >= ends[0] + timedelta(hours=1) and starts[2] >= ends[1] + timedelta(hours=1)
    # AND the rate limit and the windows were used: some runs deferred, some skipped outside the window
    reasons = Counter(o["reason"] for r in reports for o in r["outcomes"] if o["reason"])
    assert reasons["max_in_flight"] and reasons["wave_not_ready"] and reasons["outside_maintenance_window"]
    print(f"rollout: {len(reports)} scheduled runs, {len(jobs)} jobs, reasons seen: {dict(reasons)}")


def test_rollout_halts_on_the_error_budget_when_jobs_fail() -> None:
    now = datetime.now(UTC)
    document = rollout_fleet(60, 2, now)
    for item in document["instances"]:
        item["maintenance_window"] = current_window(now, -1)
    failing = [i["id"] for i in document["instances"] if i["name"] in ("early-011", "early-012")]
    document["failing_upgrades"] = dict.fromkeys(failing, "Node restart timed out (simulated).")
    with Simulator(document) as sim:
        handler = handler_for(sim)
        request = {**ROLLOUT, "max_errors": 1, "window": "anytime"}
        for number in range(30):
            report = quietly(handler, scheduled(request, number))
            sim.state.clock.advance(1800)
        jobs = list(sim.state.backend.jobs)
        final = quietly(handler, scheduled(request, 99))
    # THEN both failures were seen, nothing started after the second one ended, and the report says why
    failed = [j for j in jobs if j.status == "Failed"]
    assert sorted(j.instance_id for j in failed) == sorted(failing)
    halted_at = max(j.start + j.duration for j in failed)
    assert not [j for j in jobs if j.start > halted_at]
    assert final["rollout"]["error_budget_exhausted"] and final["rollout"]["errors_before"] == 2
    reasons = Counter(o["reason"] for o in final["outcomes"] if o["outcome"] in ("skipped", "deferred"))
    assert reasons["last_upgrade_failed"] == 2 and reasons["error_budget_exhausted"] > 0
    assert any("error budget" in note for note in final["notes"])
    assert {j.fail_reason for j in failed} == {"Node restart timed out (simulated)."}
    assert report["jobs"] is not None


def test_pinned_apply_refuses_a_changed_fleet_with_409_and_submits_the_reviewed_plan() -> None:
    now = datetime.now(UTC)
    with Simulator(rollout_fleet(12, 3, now)) as sim:
        handler = handler_for(sim)

        def post(body: dict[str, Any]) -> dict[str, Any]:
            with contextlib.redirect_stdout(io.StringIO()):
                return handler(signed_run_event(SECRET, json.dumps(body).encode()), LocalContext())

        request = {"selector": {"engines": ["cassandra"]}, "max_in_flight": "100%"}
        planned = json.loads(post({**request, "mode": "plan"})["body"])
        # WHEN the fleet changes after the review (someone patched one instance by hand)
        changed = next(i for i in sim.state.backend.instances.values() if i["datastore"]["type"] == "cassandra")
        changed["datastore"]["patch_available"] = False
        refused = post({**request, "mode": "apply", "expected_plan_id": planned["plan_id"]})
        # THEN the apply is refused with 409 and nothing is submitted
        assert refused["statusCode"] == 409
        assert json.loads(refused["body"])["error"] == "plan_changed"
        assert not [e for e in sim.exchanges if e.route == "POST /instances/db-upgrade"]
        # AND a fresh plan, applied pinned, submits exactly what was reviewed
        replanned = json.loads(post({**request, "mode": "plan"})["body"])
        applied = json.loads(post({**request, "mode": "apply", "expected_plan_id": replanned["plan_id"]})["body"])
        assert applied["plan_id"] == replanned["plan_id"]
        planned_ids = sorted(o["instance_id"] for o in replanned["outcomes"] if o["outcome"] == "planned")
        assert sorted(o["instance_id"] for o in applied["outcomes"] if o["outcome"] == "submitted") == planned_ids


def test_pinned_schedule_with_a_stale_plan_fails_the_invocation() -> None:
    now = datetime.now(UTC)
    with Simulator(rollout_fleet(6, 4, now)) as sim:
        handler = handler_for(sim)
        with pytest.raises(PlanChangedError, match="plan changed"):
            quietly(handler, scheduled({"mode": "apply", "expected_plan_id": "p-0000000000000000"}, 1))
        assert not [e for e in sim.exchanges if e.route == "POST /instances/db-upgrade"]


def test_two_targets_with_their_own_endpoints_are_observed_and_reported() -> None:
    now = datetime.now(UTC)
    second = rollout_fleet(4, 6, now, credentials={"project_id": "f" * 32})
    with Simulator(rollout_fleet(5, 5, now)) as first_sim, Simulator(second) as second_sim:
        environ = simulator_environment(first_sim, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        environ["GEMINIDB_ENDPOINTS"] = json.dumps(
            {"ap-southeast-1": first_sim.base_url, "eu-west-101": second_sim.base_url}
        )
        handler = make_handler(environ)
        targets = [
            {"region": "ap-southeast-1", "project_id": first_sim.fleet.credentials.project_id},
            {"region": "eu-west-101", "project_id": "f" * 32},
        ]
        report = quietly(handler, {"mode": "plan", "targets": targets, "max_in_flight": "100%"})
    assert Counter(o["region"] for o in report["outcomes"]) == {"ap-southeast-1": 5, "eu-west-101": 4}
    assert not report["errors"]


_action = st.one_of(
    st.tuples(st.just("run"), st.sampled_from(["all", "cassandra", "waves"])),
    st.tuples(st.just("overlap"), st.sampled_from(["all", "waves"])),
    st.tuples(st.just("advance"), st.integers(60, 4 * 3600)),
)
_REQUESTS: dict[str, dict[str, Any]] = {
    "all": {"mode": "apply", "max_in_flight": "100%", "max_errors": 10},
    "cassandra": {"mode": "apply", "max_in_flight": 3, "selector": {"engines": ["cassandra"]}, "max_errors": 10},
    "waves": {**ROLLOUT, "max_errors": 10, "bake": "PT10M"},
}


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(actions=st.lists(_action, min_size=1, max_size=12), seed=st.integers(0, 10**6))
def test_property_repeated_or_overlapping_runs_never_create_a_second_job(
    actions: list[tuple[str, Any]], seed: int
) -> None:
    # GIVEN a random fleet where some upgrades fail
    now = datetime.now(UTC)
    document = rollout_fleet(24, seed, now)
    rng = random.Random(seed)
    document["failing_upgrades"] = {i["id"]: "boom" for i in document["instances"] if rng.random() < 0.1}
    with Simulator(document) as sim:
        environ = simulator_environment(sim, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        runtime: Wiring = simulator_wiring(sim, environ)
        errors: list[BaseException] = []

        def run(name: str, number: int) -> None:
            request = RunRequest.model_validate(_REQUESTS[name])
            try:
                with contextlib.redirect_stdout(io.StringIO()):
                    runtime.patcher().run(request, RunContext(f"run-{number}", "webhook", lambda: 60_000))
            except BaseException as error:  # collected and re-raised in the test thread
                errors.append(error)

        # WHEN runs repeat, overlap in pairs, and time passes, in any order
        for number, (kind, value) in enumerate(actions):
            if kind == "advance":
                sim.state.clock.advance(value)
            elif kind == "run":
                run(value, number)
            else:
                threads = [threading.Thread(target=run, args=(value, number * 10 + k)) for k in range(2)]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
        assert not errors
        # THEN no instance ever got a second upgrade job
        per_instance = Counter(job.instance_id for job in sim.state.backend.jobs)
        assert all(count == 1 for count in per_instance.values())
