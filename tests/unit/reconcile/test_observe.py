"""Observe through a fake port: the reads a run makes, DR roles, jobs of every name."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.errors import UpstreamError
from geminidb_patcher.reconcile.observe import observe
from geminidb_patcher.reconcile.ports import UpgradeResult
from geminidb_patcher.reconcile.snapshot import InstanceView, JobView, ScheduledTask
from tests.helpers import NOW, TARGET, api_item, dr_pair, make_instance


class FakePort:
    """Answers from lists; records the calls; a role query can fail."""

    def __init__(
        self,
        items: list[dict[str, Any]],
        jobs: list[JobView],
        roles: Mapping[str, str | None],
        tags: Mapping[str, dict[str, str]] | None = None,
    ) -> None:
        self.items, self.jobs, self.roles, self.tags = items, jobs, roles, tags or {}
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def list_instance_views(self) -> list[InstanceView]:
        return [InstanceView.from_api(api_item(item)) for item in self.items]

    def list_jobs(self, **filters: Any) -> list[JobView]:
        self.calls.append(("list_jobs", filters))
        return [
            job
            for job in self.jobs
            if filters.get("status") in (None, job.status) and filters.get("name") in (None, job.name)
        ]

    def list_scheduled_tasks(self, **filters: Any) -> list[ScheduledTask]:
        self.calls.append(("list_scheduled_tasks", filters))
        return []

    def show_instance_role(self, instance_id: str) -> str:
        self.calls.append(("show_instance_role", {"instance_id": instance_id}))
        role = self.roles[instance_id]
        if role is None:
            raise UpstreamError("role API unavailable")
        return role

    def list_instance_ids_by_tags(self, tags: Mapping[str, Sequence[str]]) -> list[str]:
        self.calls.append(("list_instance_ids_by_tags", dict(tags)))
        return [
            instance_id
            for instance_id, own in self.tags.items()
            if all(key in own and (not values or own[key] in values) for key, values in tags.items())
        ]

    def batch_upgrade(self, instance_ids: Sequence[str]) -> list[UpgradeResult]:
        raise AssertionError("observe never writes")


def job(instance: dict[str, Any], name: str, status: str) -> JobView:
    return JobView(f"{name}-{status}", str(instance["id"]), "", status, NOW - timedelta(hours=1), None, "", "", name)


def test_dr_roles_are_asked_only_for_pair_members_and_a_failure_leaves_the_role_unknown() -> None:
    rng = random.Random(1)
    standby, primary = dr_pair(rng, engine="redis")
    alone = make_instance(rng, name="alone")
    port = FakePort([standby, primary, alone], [], {standby["id"]: "slave", primary["id"]: None})  # type: ignore[dict-item]
    snap = observe(port, TARGET, NOW, RunRequest())
    roles = {view.name: (view.dr_role, view.dr_role_problem) for view in snap.instances}
    assert roles["standby"] == ("standby", "") and roles["alone"] == ("", "")
    assert roles["primary"][0] == "unknown" and "role API unavailable" in roles["primary"][1]
    assert sorted(c[1]["instance_id"] for c in port.calls if c[0] == "show_instance_role") == sorted(
        [standby["id"], primary["id"]]
    )


def test_running_jobs_of_any_name_block_and_failed_upgrades_of_any_name_count() -> None:
    rng = random.Random(2)
    backup, renamed, failed = (make_instance(rng, name=n) for n in ("backup", "renamed", "failed"))
    jobs = [
        job(backup, "BackupInstance", "Running"),
        job(renamed, "BatchUpgradeDatabaseVersion", "Running"),
        job(failed, "BatchUpgradeDatabaseVersion", "Failed"),
    ]
    snap = observe(FakePort([backup, renamed, failed], jobs, {}), TARGET, NOW, RunRequest())
    assert snap.other_jobs == {backup["id"]: "BackupInstance-Running (BackupInstance)"}
    assert snap.running_upgrades == {renamed["id"]: "BatchUpgradeDatabaseVersion-Running"}
    assert {j.instance_id for j in snap.jobs if j.status == "Failed"} == {failed["id"]}


def test_pending_tasks_are_asked_for_29_days_of_creation_ending_now() -> None:
    port = FakePort([], [], {})
    observe(port, TARGET, NOW + timedelta(microseconds=1), RunRequest())
    ((_, filters),) = [c for c in port.calls if c[0] == "list_scheduled_tasks"]
    until = NOW + timedelta(seconds=1)  # now, to the API's whole seconds, rounded up
    assert filters["job_status"] == "Pending" and filters["created_until"] == until
    assert until - filters["created_since"] == timedelta(days=29)


def test_every_job_read_ends_now_and_spans_at_most_29_days() -> None:
    port = FakePort([], [], {})
    observe(port, TARGET, NOW, RunRequest(rollout_lookback="P30D"))
    spans = [c[1] for c in port.calls if c[0] == "list_jobs"]
    assert len(spans) == 3
    assert all(f["end_time"] == NOW and f["end_time"] - f["start_time"] <= timedelta(days=29) for f in spans)


def test_a_cassandra_pair_takes_its_roles_from_the_declared_tag_and_never_asks_the_role_api() -> None:
    rng = random.Random(2)
    standby, primary = dr_pair(rng)
    port = FakePort([standby, primary], [], {}, tags={standby["id"]: {"patch-dr-role": "standby"}})
    snap = observe(port, TARGET, NOW, RunRequest())
    roles = {view.name: view.dr_role for view in snap.instances}
    assert roles == {"standby": "standby", "primary": "primary"}  # the undeclared side is the other role
    assert not [call for call in port.calls if call[0] == "show_instance_role"]
    assert [c[1] for c in port.calls if c[0] == "list_instance_ids_by_tags"] == [
        {"patch-dr-role": ["primary"]},
        {"patch-dr-role": ["standby"]},
    ]


def test_an_undeclared_or_contradictory_cassandra_pair_waits_and_says_how_to_declare() -> None:
    rng = random.Random(3)
    standby, primary = dr_pair(rng)
    undeclared = observe(FakePort([standby, primary], [], {}), TARGET, NOW, RunRequest())
    for view in undeclared.instances:
        assert view.dr_role == "unknown"
        assert "tag the standby patch-dr-role=standby and the primary patch-dr-role=primary" in view.dr_role_problem
    both = {standby["id"]: {"patch-dr-role": "primary"}, primary["id"]: {"patch-dr-role": "primary"}}
    contradictory = observe(FakePort([standby, primary], [], {}, tags=both), TARGET, NOW, RunRequest())
    assert {view.dr_role for view in contradictory.instances} == {"unknown"}
    assert "same value on both sides" in contradictory.instances[0].dr_role_problem
