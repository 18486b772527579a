"""Planner rollout rules: DR order, rate limits, error budget, waves, pinned plans, targets, tags, job records."""

from __future__ import annotations

import random
from datetime import timedelta

import pytest

from geminidb_patcher.contract.request import RunRequest, Selector, Target
from geminidb_patcher.reconcile.budget import resolve_limit
from geminidb_patcher.reconcile.plan import plan_id
from geminidb_patcher.reconcile.snapshot import tag_filter
from tests.helpers import (
    NOW,
    dr_pair,
    dual_active_pair,
    job,
    make_instance,
    plan_of,
    reasons,
    snapshot,
    submitted,
    waves_request,
)


def test_dr_standby_goes_first_and_the_primary_waits() -> None:
    result = plan_of(snapshot(dr_pair(random.Random(1))))
    assert submitted(result) == ["standby"]
    assert reasons(result) == {"primary": "waiting_for_dr_standby"}


def test_dr_primary_goes_once_the_standby_is_patched_and_idle() -> None:
    pair = dr_pair(random.Random(2), standby_patch=False)
    assert submitted(plan_of(snapshot(pair))) == ["primary"]
    running = plan_of(snapshot(pair, running={pair[0]["id"]: "job-standby"}))  # type: ignore[dict-item]
    assert reasons(running)["primary"] == "waiting_for_dr_standby"


def test_dr_standby_in_another_target_is_found_and_missing_one_is_explained() -> None:
    standby, primary = dr_pair(random.Random(3), standby_patch=False)
    other = Target(region="eu-west-101", project_id="f" * 32)
    result = plan_of([snapshot([primary]), snapshot([standby], target=other)])
    assert "primary" in submitted(result)
    alone = plan_of(snapshot([primary]))
    assert reasons(alone) == {"primary": "waiting_for_dr_standby"}
    assert "not in any target" in alone.holds[0].detail


def test_dr_unknown_role_is_never_guessed() -> None:
    standby, primary = dr_pair(random.Random(4))
    del standby["dr_role"], primary["dr_role"]  # as ListInstances alone shows the pair
    result = plan_of(snapshot([standby, primary]))
    assert set(reasons(result).values()) == {"dr_role_unknown"}
    assert all("its role was not read" in hold.detail for hold in result.holds)


def test_dr_role_answers_other_than_master_or_slave_leave_the_pair_waiting() -> None:
    standby, primary = dr_pair(random.Random(14), role="observer")
    result = plan_of(snapshot([standby, primary]))
    assert reasons(result) == {"standby": "dr_role_unknown", "primary": "waiting_for_dr_standby"}
    assert "'observer'" in result.holds[0].detail


def test_dual_active_info_alone_is_not_a_dr_role() -> None:
    """The old reading took DR roles from dual_active_info.role; that field describes active-active pairs."""
    pair = dual_active_pair(random.Random(15))
    for item, role in zip(pair, ("slave", "master"), strict=True):
        item["dual_active_info"]["role"] = role  # type: ignore[index]
    views = snapshot(pair).instances
    assert [(view.pair, view.dr_role) for view in views] == [("dual_active", ""), ("dual_active", "")]


def test_dual_active_sides_are_patched_one_at_a_time() -> None:
    side_a, side_b = dual_active_pair(random.Random(16))
    result = plan_of(snapshot([side_a, side_b]))
    assert submitted(result) == ["side-a"]
    assert reasons(result) == {"side-b": "waiting_for_dual_active_peer"}
    side_a["datastore"]["patch_available"] = False  # type: ignore[index]
    assert submitted(plan_of(snapshot([side_a, side_b], running={str(side_a["id"]): "job-a"}))) == []
    assert submitted(plan_of(snapshot([side_a, side_b]))) == ["side-b"]
    assert "not in any target" in plan_of(snapshot([side_b])).holds[0].detail


def test_abnormal_node_and_group_are_skipped_with_the_part_named() -> None:
    rng = random.Random(5)
    node_down = make_instance(rng, name="node-down", abnormal_nodes=1)
    result = plan_of(snapshot([node_down]))
    assert reasons(result) == {"node-down": "abnormal_node"} and "node-0: abnormal" in result.holds[0].detail


@pytest.mark.parametrize(
    ("limit", "in_scope", "expected"),
    [("25%", 3, 1), ("25%", 8, 2), ("0%", 5, 0), ("100%", 7, 7), (4, 2, 4), ("10%", 0, 0), ("99%", 1, 1)],
)
def test_max_in_flight_percent_rounds_down_but_keeps_one(limit: int | str, in_scope: int, expected: int) -> None:
    assert resolve_limit(limit, in_scope, at_least_one=True) == expected


def test_max_errors_percent_rounds_down_to_zero_on_small_fleets() -> None:
    assert resolve_limit("10%", 5, at_least_one=False) == 0
    assert resolve_limit("10%", 20, at_least_one=False) == 2


def test_max_in_flight_counts_running_jobs_fleet_wide() -> None:
    rng = random.Random(6)
    fleet = [make_instance(rng, name=f"c{i}") for i in range(10)]
    outside = make_instance(rng, name="outside", patch_available=False)
    snap = snapshot([*fleet, outside], running={outside["id"]: "job-x", fleet[0]["id"]: "job-y"})
    result = plan_of(snap, RunRequest(max_in_flight=4))
    assert len(submitted(result)) == 2
    assert sum(1 for h in result.holds if h.reason == "max_in_flight") == 7
    assert result.rollout.in_flight_before == 2


def test_max_in_flight_zero_pauses_everything() -> None:
    rng = random.Random(7)
    result = plan_of(snapshot([make_instance(rng) for _ in range(3)]), RunRequest(max_in_flight=0))
    assert not result.batches and {h.reason for h in result.holds} == {"max_in_flight"}


def test_error_budget_counts_failed_jobs_in_lookback_and_halts_when_exceeded() -> None:
    rng = random.Random(8)
    failed = make_instance(rng, name="failed")
    fresh = [make_instance(rng, name=f"fresh{i}") for i in range(3)]
    jobs = (job(failed, "Failed", NOW - timedelta(hours=2), NOW - timedelta(hours=1), fail_reason="disk"),)
    snap = snapshot([failed, *fresh], jobs=jobs)
    # one error, max_errors 1: not exceeded, the failed instance is not retried by itself
    within = plan_of(snap, RunRequest(max_in_flight="100%", max_errors=1))
    assert len(submitted(within)) == 3 and reasons(within) == {"failed": "last_upgrade_failed"}
    assert "disk" in within.holds[0].detail
    # one error, max_errors 0: exceeded, nothing goes
    halted = plan_of(snap, RunRequest(max_in_flight="100%", max_errors=0))
    assert not halted.batches and halted.rollout.error_budget_exhausted
    assert {h.reason for h in halted.holds if h.instance_id != failed["id"]} == {"error_budget_exhausted"}
    # the failure older than rollout_lookback no longer counts
    later = plan_of(snap, RunRequest(max_in_flight="100%", rollout_lookback=timedelta(minutes=90)))
    assert later.rollout.errors_before == 0 and len(submitted(later)) == 4


def test_a_failure_resolved_by_a_later_completed_upgrade_does_not_count() -> None:
    rng = random.Random(9)
    instance = make_instance(rng, name="retried", patch_available=False)
    jobs = (
        job(instance, "Failed", NOW - timedelta(hours=5), NOW - timedelta(hours=4)),
        job(instance, "Completed", NOW - timedelta(hours=3), NOW - timedelta(hours=2)),
    )
    other = make_instance(rng, name="other")
    result = plan_of(snapshot([instance, other], jobs=jobs), RunRequest(max_in_flight="100%"))
    assert result.rollout.errors_before == 0 and submitted(result) == ["other"]


def test_explicit_instance_ids_retry_a_failed_instance() -> None:
    rng = random.Random(10)
    failed = make_instance(rng, name="failed")
    jobs = (job(failed, "Failed", NOW - timedelta(hours=2), NOW - timedelta(hours=1)),)
    result = plan_of(snapshot([failed], jobs=jobs), RunRequest(instance_ids=[failed["id"]], max_errors=1))
    assert submitted(result) == ["failed"]


def test_verify_failed_is_flagged_as_the_instances_own_problem_and_holds_back_no_other() -> None:
    rng = random.Random(11)
    stuck, other = make_instance(rng, name="stuck"), make_instance(rng, name="other")
    jobs = (job(stuck, "Completed", NOW - timedelta(hours=2), NOW - timedelta(hours=1)),)
    result = plan_of(snapshot([stuck, other], jobs=jobs), RunRequest(max_errors=0, max_in_flight="100%"))
    assert reasons(result) == {"stuck": "verify_failed"} and result.rollout.errors_before == 0
    assert submitted(result) == ["other"] and not result.rollout.error_budget_exhausted


def test_a_patch_offered_again_after_reverify_after_is_a_new_patch_not_a_failed_upgrade() -> None:
    rng = random.Random(12)
    hotfixed = make_instance(rng, name="hotfixed")
    jobs = (job(hotfixed, "Completed", NOW - timedelta(days=3), NOW - timedelta(days=3) + timedelta(minutes=20)),)
    for after, expected in ((timedelta(days=1), ["hotfixed"]), (timedelta(days=4), [])):
        result = plan_of(snapshot([hotfixed], jobs=jobs), RunRequest(reverify_after=after, max_in_flight="100%"))
        assert submitted(result) == expected
        assert reasons(result) == ({} if expected else {"hotfixed": "verify_failed"})


def test_wave_two_waits_for_wave_one_to_be_patched() -> None:
    rng = random.Random(12)
    fleet = [make_instance(rng, name="canary-1"), make_instance(rng, name="prod-1"), make_instance(rng, "influxdb")]
    result = plan_of(snapshot(fleet), waves_request())
    assert submitted(result) == ["canary-1"]
    assert [(h.outcome, h.reason) for h in result.holds if h.instance and h.instance.name == "prod-1"] == [
        ("deferred", "wave_not_ready")
    ]
    assert [h.reason for h in result.holds if h.instance and h.instance.engine == "influxdb"] == ["not_in_any_wave"]
    assert [w.ready for w in result.rollout.waves] == [True, False]


def test_wave_two_opens_exactly_when_the_bake_time_has_passed() -> None:
    rng = random.Random(13)
    canary = make_instance(rng, name="canary-1", patch_available=False)
    prod = make_instance(rng, name="prod-1")
    ended = NOW - timedelta(hours=1)
    jobs = (job(canary, "Completed", ended - timedelta(minutes=20), ended),)
    baked = plan_of(snapshot([canary, prod], jobs=jobs), waves_request())
    assert submitted(baked) == ["prod-1"]
    baking = plan_of(snapshot([canary, prod], jobs=jobs), waves_request(), now=NOW - timedelta(seconds=1))
    assert reasons(baking)["prod-1"] == "wave_not_ready" and "baking until" in baking.holds[-1].detail


def test_a_failure_in_wave_one_blocks_wave_two() -> None:
    rng = random.Random(14)
    canary = make_instance(rng, name="canary-1")
    prod = make_instance(rng, name="prod-1")
    jobs = (job(canary, "Failed", NOW - timedelta(hours=3), NOW - timedelta(hours=2)),)
    result = plan_of(snapshot([canary, prod], jobs=jobs), waves_request())
    assert reasons(result) == {"canary-1": "last_upgrade_failed", "prod-1": "wave_not_ready"}
    assert "failed" in result.rollout.waves[1].detail


def test_tags_select_through_the_snapshot_tag_matches() -> None:
    rng = random.Random(15)
    a, b = make_instance(rng, name="a"), make_instance(rng, name="b")
    tags = {"tier": ["canary"]}
    snap = snapshot([a, b], tagged={tag_filter(tags): frozenset({b["id"]})})
    result = plan_of(snap, RunRequest(selector=Selector(tags=tags), max_in_flight="100%"))
    assert submitted(result) == ["b"]


def test_modes_select_by_instance_mode() -> None:
    rng = random.Random(16)
    fleet = [make_instance(rng, "redis", name="rc", mode="RedisCluster"), make_instance(rng, "redis", name="rp")]
    result = plan_of(snapshot(fleet), RunRequest(selector=Selector(modes=["RedisCluster"]), max_in_flight="100%"))
    assert submitted(result) == ["rc"]


def test_plan_id_is_stable_and_changes_with_versions() -> None:
    rng = random.Random(17)
    fleet = [make_instance(rng, name=f"c{i}") for i in range(12)]
    first = plan_of(snapshot(fleet))
    again = plan_of(snapshot(list(reversed(fleet))))
    assert first.plan_id == again.plan_id == plan_id(first.batches)
    fleet[0]["datastore"]["whole_version"] = "3.11.9.9"
    assert plan_of(snapshot(fleet)).plan_id != first.plan_id


def test_not_found_ids_are_reported_once_across_targets() -> None:
    rng = random.Random(18)
    a = make_instance(rng, name="a")
    other = Target(region="eu-west-101", project_id="f" * 32)
    ghost = "0" * 32 + "in06"
    result = plan_of([snapshot([a]), snapshot([], target=other)], RunRequest(instance_ids=[a["id"], ghost]))
    assert reasons(result) == {ghost: "not_found"} and submitted(result) == ["a"]
    (hold,) = result.holds
    assert hold.target is None  # found in no target, it belongs to none (not to the first)
    alone = plan_of([snapshot([a])], RunRequest(instance_ids=[ghost]))
    assert alone.holds[0].target == snapshot([a]).target  # one target: the one it was looked for in


def test_job_records_hold_running_jobs_and_those_ended_within_lookback() -> None:
    rng = random.Random(19)
    done, old, failed = (make_instance(rng, name=n, patch_available=False) for n in ("done", "old", "failed"))
    jobs = (
        job(done, "Completed", NOW - timedelta(minutes=50), NOW - timedelta(minutes=30)),
        job(old, "Completed", NOW - timedelta(hours=5), NOW - timedelta(hours=4)),
        job(failed, "Failed", NOW - timedelta(minutes=40), NOW - timedelta(minutes=10), fail_reason="timeout"),
    )
    busy = make_instance(rng, name="busy")
    result = plan_of(snapshot([done, old, failed, busy], running={busy["id"]: "job-busy"}, jobs=jobs))
    records = {(r.instance_id, r.status, r.fail_reason) for r in result.jobs}
    assert records == {
        (done["id"], "Completed", None),
        (failed["id"], "Failed", "timeout"),
        (busy["id"], "Running", None),
    }
