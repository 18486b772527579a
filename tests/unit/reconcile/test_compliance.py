"""Compliance per target and engine from what a run read; the digest's compliance line."""

from __future__ import annotations

import random

from geminidb_patcher.notify.digest import build_digest, compliance_line
from geminidb_patcher.reconcile.compliance import compliance
from tests.helpers import TARGET, instance_id, plan_of, snapshot
from tests.reports import small_run


def _fleet() -> list[dict[str, object]]:
    rng = random.Random(15)

    def one(engine: str, **fields: object) -> dict[str, object]:
        datastore = {"type": engine, **fields.pop("datastore", {})}  # type: ignore[dict-item]
        return {"id": instance_id(rng), "name": f"{engine}-{rng.randrange(10**6)}", "datastore": datastore, **fields}

    return [
        one("cassandra", datastore={"whole_version": "3.11.5.4", "patch_available": False}),
        one("cassandra", datastore={"whole_version": "3.11.5.4", "patch_available": False}),
        one("cassandra", datastore={"whole_version": "3.11.5.3"}),
        one("cassandra", datastore={"whole_version": "3.11.5.3"}, status="frozen"),
        one("cassandra", datastore={"whole_version": "", "version": ""}, abnormal_nodes=1),
        one("redis", datastore={"patch_available": False}),  # Huawei gives only Cassandra a whole_version
        one("redis", datastore={}, maintenance_window="20:00-21:00"),
        one("mongodb", datastore={"version": "4.0"}),
    ]


def test_counts_per_engine_with_what_only_an_operator_can_fix() -> None:
    fleet = snapshot(_fleet())
    result = plan_of(fleet, trigger="schedule")

    by_engine = {entry.engine: entry for entry in compliance([fleet], result.holds)}

    cassandra, redis, mongodb = by_engine["cassandra"], by_engine["redis"], by_engine["mongodb"]
    assert (cassandra.instances, cassandra.current, cassandra.behind) == (5, 2, 3)
    assert cassandra.behind_not_patchable == 2  # the frozen one and the one with an abnormal node
    assert cassandra.versions == {"3.11.5.3": 2, "3.11.5.4": 2, "unknown": 1}
    assert cassandra.ratio == 0.4
    assert (redis.current, redis.behind, redis.behind_not_patchable) == (1, 1, 0)  # only waiting for its window
    assert redis.versions == {"6.2": 2}  # no whole_version outside Cassandra: the major version stands in
    assert (mongodb.behind, mongodb.behind_not_patchable) == (1, 1)  # an engine this tool cannot patch
    assert {entry.region for entry in by_engine.values()} == {TARGET.region}


def test_instances_out_of_scope_still_count_but_are_not_called_stuck() -> None:
    fleet = snapshot(_fleet())

    (cassandra,) = [entry for entry in compliance([fleet], ()) if entry.engine == "cassandra"]

    assert (cassandra.behind, cassandra.behind_not_patchable) == (3, 0)


def test_the_digest_carries_one_compliance_line_first() -> None:
    fleet = snapshot(_fleet())
    entries = compliance([fleet], plan_of(fleet, trigger="schedule").holds)
    report = small_run().model_copy(update={"compliance": entries})

    digest = build_digest(report)

    assert digest.sections[0].heading == "Compliance"
    assert digest.sections[0].lines == (compliance_line(entries),)
    assert compliance_line(entries) == (
        "Cassandra 2/5 no patch offered (2 need an operator) · MongoDB 0/1 no patch offered (1 needs an operator) · "
        "Redis 1/2 no patch offered"
    )
    assert build_digest(small_run()).sections[0].heading != "Compliance"  # no fleet read, no line


def test_no_patch_offered_on_an_older_full_version_than_the_fleet_shows_is_behind_not_current() -> None:
    rng = random.Random(21)
    none_offered = {"patch_available": False}
    items = [
        {"id": instance_id(rng), "datastore": {"type": "cassandra", "whole_version": version, **none_offered}}
        for version in ("3.11.5.5", "3.11.5.4", "3.11.5.5", "3.12.1.0")
    ]
    items += [
        {"id": instance_id(rng), "datastore": {"type": "redis", "version": version, **none_offered}}
        for version in ("5.0", "6.2")
    ]
    by_engine = {entry.engine: entry for entry in compliance([snapshot(items)], ())}
    cassandra, redis = by_engine["cassandra"], by_engine["redis"]
    assert (cassandra.no_patch_offered, cassandra.older_version, cassandra.current, cassandra.behind) == (4, 1, 3, 1)
    assert (redis.older_version, redis.current) == (0, 2)  # major versions alone say nothing of patches
    assert "1 more offered none but run an older version" in compliance_line(list(by_engine.values()))
