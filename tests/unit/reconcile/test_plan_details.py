"""Exact outcomes, reasons and sentences: what an operator reads must not drift (also the mutation survivors)."""

from __future__ import annotations

import random
from datetime import time, timedelta

import pytest

from geminidb_patcher.contract.reasons import reason_code, reason_of
from geminidb_patcher.contract.request import ExplicitWindow, RunRequest, Selector, Wave
from geminidb_patcher.reconcile.plan import plan
from geminidb_patcher.reconcile.snapshot import tag_filter
from tests.helpers import NOW, dr_pair, job, make_instance, plan_of, snapshot

HOLD_KINDS = {
    "not_found": "skipped",
    "not_in_any_wave": "skipped",
    "status_abnormal": "skipped",
    "status_unknown": "skipped",
    "abnormal_node": "skipped",
    "busy": "skipped",
    "no_patch_available": "skipped",
    "last_upgrade_failed": "skipped",
    "waiting_for_dr_standby": "skipped",
    "no_maintenance_window": "skipped",
    "outside_maintenance_window": "skipped",
    "wave_not_ready": "deferred",
    "error_budget_exhausted": "deferred",
    "max_in_flight": "deferred",
}


def catalogue_fleet() -> tuple[list[dict[str, object]], tuple[object, ...]]:
    rng = random.Random(42)
    items = [
        make_instance(rng, name="a-status", status=""),
        make_instance(rng, name="b-node", abnormal_nodes=2),
        make_instance(rng, name="c-busy", actions=["REBOOT", "RESIZE"]),
        make_instance(rng, name="d-patched", patch_available=False),
        make_instance(rng, name="e-failed"),
        make_instance(rng, name="f-nowindow", maintenance_window=""),
        make_instance(rng, name="g-outside", maintenance_window="20:00-23:00"),
        make_instance(rng, name="h-ok", maintenance_window="11:00-15:00"),
        make_instance(rng, name="i-ok", maintenance_window="11:00-15:00"),
        make_instance(rng, name="j-ok", maintenance_window="11:00-15:00"),
        make_instance(rng, "mongodb", name="k-mongo"),
    ]
    failed = job(
        items[4], "Failed", NOW - timedelta(hours=3), NOW - timedelta(hours=2), id="job-e", fail_reason="Disk."
    )
    return items, (failed,)


def test_every_reason_has_its_outcome_kind_and_its_sentence() -> None:
    items, jobs = catalogue_fleet()
    request = RunRequest(max_in_flight=2, max_errors=1, window="instance")
    result = plan_of(snapshot(items, jobs=jobs), request, trigger="schedule")
    holds = {
        h.instance.name if h.instance else h.instance_id: (
            h.outcome, reason_code(h.reason, h.instance.status if h.instance else ""), h.detail,
        )
        for h in result.holds
    }  # fmt: skip
    assert all(reason_of(reason) for reason in HOLD_KINDS)
    assert holds == {
        "a-status": ("skipped", "status_unknown", "Status is ''; patching needs 'normal'."),
        "b-node": (
            "skipped",
            "abnormal_node",
            "Not every node is healthy (node node-0: abnormal, node node-1: abnormal).",
        ),
        "c-busy": ("skipped", "busy", "The instance is busy with REBOOT, RESIZE."),
        "d-patched": (
            "skipped",
            "no_patch_available",
            "No patch offered: Huawei reports patch_available false (no patch may be applied now).",
        ),
        "e-failed": (
            "skipped",
            "last_upgrade_failed",
            "Upgrade job job-e failed: Disk. Fix the cause, then retry it by naming it in instance_ids.",
        ),
        "f-nowindow": ("skipped", "no_maintenance_window", "The instance reports no readable maintenance window ('')."),
        "g-outside": (
            "skipped",
            "outside_maintenance_window",
            "Outside the instance's maintenance window 20:00-23:00 UTC; it next opens at 2026-01-01 20:00 UTC.",
        ),
        "j-ok": (
            "deferred",
            "max_in_flight",
            "2 upgrade(s) would be in flight; max_in_flight is 2 (raise it to submit more at once).",
        ),
        "k-mongo": (
            "skipped",
            "unsupported_engine",
            "Engine 'mongodb' cannot be patched by the batch API here (main site: cassandra, influxdb, redis).",
        ),
    }
    assert [i.name for b in result.batches for i in b.instances] == ["h-ok", "i-ok"]
    assert all(HOLD_KINDS.get(reason, "skipped") == kind for kind, reason, _ in holds.values())
    rollout = result.rollout
    assert (rollout.in_scope, rollout.errors_before, rollout.errors_this_run, rollout.max_errors) == (11, 1, 0, 1)


def test_error_budget_and_requested_window_sentences() -> None:
    items, jobs = catalogue_fleet()
    result = plan_of(snapshot(items[4:5] + items[7:8], jobs=jobs), RunRequest(max_errors=0, max_in_flight=5))
    assert [(h.outcome, h.detail) for h in result.holds if h.reason == "error_budget_exhausted"] == [
        ("deferred", "1 error(s) exceed max_errors 0; nothing is submitted until an operator acts.")
    ]
    late = RunRequest(window=ExplicitWindow(start=time(10), end=time(12, 10)), max_in_flight=5)
    (hold,) = plan_of(snapshot(items[7:8]), late).holds
    assert hold.detail == (
        "Only 10 min left in the requested window; the upgrade may take up to 16 min (Huawei's guide). "
        "It next opens at 2026-01-02 10:00 UTC."
    )


def test_not_in_any_wave_counts_in_scope_and_percent_limits_use_it() -> None:
    rng = random.Random(7)
    fleet = [make_instance(rng, name=f"canary-{i}") for i in range(2)] + [make_instance(rng, "redis") for _ in range(2)]
    request = RunRequest(
        waves=[Wave(name="canary", selector=Selector(name="*canary"))], max_in_flight="50%", max_errors="10%"
    )
    result = plan_of(snapshot(fleet), request)
    assert (result.rollout.in_scope, result.rollout.max_in_flight, result.rollout.max_errors) == (4, 2, 0)
    assert [(h.outcome, h.detail) for h in result.holds] == [
        ("skipped", "No wave's selector matches this instance.")
    ] * 2
    assert [b.waves for b in result.batches] == [("canary", "canary")]


def test_tag_selected_waves_read_the_snapshot_tag_matches() -> None:
    rng = random.Random(8)
    a, b = make_instance(rng, name="a"), make_instance(rng, name="b")
    tags = {"ring": ["canary"]}
    request = RunRequest(waves=[Wave(name="canary", selector=Selector(tags=tags))], max_in_flight="100%")
    result = plan_of(snapshot([a, b], tagged={tag_filter(tags): frozenset({a["id"]})}), request)
    assert [i.name for batch in result.batches for i in batch.instances] == ["a"]


def test_standby_takes_the_only_slot_before_names_that_sort_first() -> None:
    rng = random.Random(9)
    standby, primary = dr_pair(rng)
    standby["name"], primary["name"] = "zz-standby", "zz-primary"
    first = make_instance(rng, name="aa-first")
    result = plan_of(snapshot([first, standby, primary]), RunRequest(max_in_flight=1))
    assert [i.name for batch in result.batches for i in batch.instances] == ["zz-standby"]


def test_a_busy_standby_holds_its_primary() -> None:
    standby, primary = dr_pair(random.Random(10), standby_patch=False)
    standby["actions"] = ["RESTORE"]
    result = plan_of(snapshot([standby, primary]))
    assert {h.instance.name: h.reason for h in result.holds if h.instance} == {
        "standby": "busy",
        "primary": "waiting_for_dr_standby",
    }


def test_a_held_instance_does_not_stop_the_ones_after_it() -> None:
    rng = random.Random(11)
    fleet = [
        make_instance(rng, name="a", maintenance_window="20:00-22:00"),
        make_instance(rng, name="b", maintenance_window="11:00-15:00"),
    ]
    result = plan_of(snapshot(fleet), RunRequest(max_in_flight=5), trigger="schedule")
    assert [i.name for batch in result.batches for i in batch.instances] == ["b"]


def test_failure_exactly_at_the_lookback_edge_still_counts() -> None:
    rng = random.Random(12)
    failed = make_instance(rng, name="edge")
    jobs = (job(failed, "Failed", NOW - timedelta(days=7), NOW - timedelta(days=7) + timedelta(minutes=5)),)
    result = plan_of(snapshot([failed, make_instance(rng, name="other")], jobs=jobs), RunRequest(max_errors=1))
    assert result.rollout.errors_before == 1
    assert [h.reason for h in result.holds] == ["last_upgrade_failed"]


def test_job_records_keep_every_field_and_put_running_jobs_first() -> None:
    rng = random.Random(13)
    a, b = make_instance(rng, name="b-done", patch_available=False), make_instance(rng, name="a-running")
    ended = NOW - timedelta(hours=1)
    jobs = (
        job(a, "Completed", ended - timedelta(minutes=20), ended, id="job-a"),
        job(b, "Running", NOW - timedelta(minutes=5), None, id="job-b", progress="35%"),
    )
    records = plan_of(snapshot([a, b], jobs=jobs), RunRequest(lookback=timedelta(hours=1))).jobs
    assert [(r.job_id, r.instance_name, r.status, r.progress, r.started_at, r.ended_at) for r in records] == [
        ("job-b", "a-running", "Running", "35%", NOW - timedelta(minutes=5), None),
        ("job-a", "b-done", "Completed", None, ended - timedelta(minutes=20), ended),
    ]


def test_wave_statuses_count_pending_and_failed_and_say_when_baking_ends() -> None:
    rng = random.Random(14)
    c1 = make_instance(rng, name="canary-1", patch_available=False)
    c2 = make_instance(rng, name="canary-2")
    prod = make_instance(rng, name="prod-1")
    ended = NOW - timedelta(minutes=30)
    jobs = (
        job(c1, "Completed", ended - timedelta(minutes=10), ended),
        job(c2, "Failed", ended - timedelta(minutes=10), ended),
    )
    waves = [Wave(name="canary", selector=Selector(name="*canary")), Wave(name="rest")]
    statuses = plan_of(snapshot([c1, c2, prod], jobs=jobs), RunRequest(waves=waves, max_errors=5)).rollout.waves
    assert [(s.name, s.instances, s.pending, s.failed, s.ready) for s in statuses] == [
        ("canary", 2, 1, 1, True),
        ("rest", 1, 1, 0, False),
    ]
    assert statuses[1].detail == "Waiting: wave 'canary' has 1 failed upgrade(s); an operator must act."
    c2["datastore"]["patch_available"] = False  # type: ignore[index]
    fixed = (jobs[0], job(c2, "Completed", ended - timedelta(minutes=5), ended))
    baking = plan_of(snapshot([c1, c2, prod], jobs=fixed), RunRequest(waves=waves)).rollout.waves
    assert baking[1].detail == "Waiting: wave 'canary' is baking until 2026-01-01 12:30 UTC."


def test_plan_refuses_an_empty_list_of_snapshots() -> None:
    with pytest.raises(ValueError, match="at least one snapshot"):
        plan([], RunRequest(), None, NOW)  # type: ignore[arg-type]
