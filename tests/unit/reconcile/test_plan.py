"""The pure planner: pre-check reasons, scope, batching, and one outcome per instance."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from geminidb_patcher.contract.request import RunRequest, Selector
from geminidb_patcher.reconcile.snapshot import InstanceView
from tests.helpers import instance_id, make_instance, plan_of, reasons, skipped, snapshot


def test_plan_skips_each_precheck_with_its_reason() -> None:
    # GIVEN one instance per pre-check, plus one eligible
    rng = random.Random(1)
    fleet = [
        make_instance(rng, "mongodb", name="mongo"),
        make_instance(rng, status="abnormal", name="abnormal"),
        make_instance(rng, name="running"),
        make_instance(rng, name="scheduled"),
        make_instance(rng, actions=["REBOOT"], name="busy"),
        make_instance(rng, patch_available=False, name="patched"),
        make_instance(rng, name="eligible"),
    ]
    snap = snapshot(fleet, running={fleet[2]["id"]: "job-1"}, scheduled={fleet[3]["id"]: "task-1"})
    missing = instance_id(rng)
    # WHEN planning explicit IDs, one of them unknown
    result = plan_of(snap, RunRequest(instance_ids=[i["id"] for i in fleet] + [missing], max_in_flight="100%"))
    # THEN each skip has its machine reason and a sentence
    assert reasons(result) == {
        "mongo": "unsupported_engine",
        "abnormal": "status_abnormal",
        "running": "upgrade_running",
        "scheduled": "upgrade_scheduled",
        "busy": "busy",
        "patched": "no_patch_available",
        missing: "not_found",
    }
    assert all(skip.detail.endswith(".") for skip in skipped(result))
    assert [b.instance_ids for b in result.batches] == [[fleet[6]["id"]]]


def test_plan_selector_filters_by_engine_name_and_exclusions() -> None:
    rng = random.Random(2)
    fleet = [
        make_instance(rng, "redis", name="orders-redis"),
        make_instance(rng, "redis", name="cache"),
        make_instance(rng, "cassandra", name="orders-cass"),
        make_instance(rng, "redis", name="orders-redis-2"),
    ]
    request = RunRequest(selector=Selector(engines=["redis"], name="*orders", exclude_ids=[fleet[3]["id"]]))
    result = plan_of(snapshot(fleet), request)
    assert not skipped(result)
    assert [b.instance_ids for b in result.batches] == [[fleet[0]["id"]]]


def test_plan_exact_name_without_star_matches_only_that_name() -> None:
    rng = random.Random(3)
    fleet = [make_instance(rng, name="orders"), make_instance(rng, name="orders-2")]
    result = plan_of(snapshot(fleet), RunRequest(selector=Selector(name="orders")))
    assert [b.instance_ids for b in result.batches] == [[fleet[0]["id"]]]


def test_plan_splits_25_instances_of_one_engine_into_10_10_5() -> None:
    rng = random.Random(4)
    result = plan_of(snapshot([make_instance(rng, "influxdb") for _ in range(25)]))
    assert [len(b.instances) for b in result.batches] == [10, 10, 5]


def test_plan_parses_sloppy_api_types_tolerantly() -> None:
    view = InstanceView.from_api(
        {
            "id": "x",
            "status": "Normal",
            "datastore": {"type": "Redis", "patch_available": "true"},
            "actions": None,
            "pay_mode": 0,
        }
    )
    assert (view.engine, view.status, view.patch_available, view.actions) == ("redis", "normal", True, ())


_ENGINES = ["cassandra", "influxdb", "redis", "mongodb", "hbase"]
_instance = st.fixed_dictionaries(
    {
        "engine": st.sampled_from(_ENGINES),
        "status": st.sampled_from(["normal", "normal", "normal", "abnormal", "frozen"]),
        "patch": st.booleans(),
        "busy": st.booleans(),
    }
)


@settings(max_examples=300, deadline=None)
@given(fleet=st.lists(_instance, max_size=80), seed=st.integers(0, 2**32), mode=st.sampled_from(["all", "ids", "sel"]))
def test_plan_property_every_instance_once_batches_small_and_single_engine(
    fleet: list[dict[str, Any]], seed: int, mode: str
) -> None:
    # GIVEN a random fleet and a random scope
    rng = random.Random(seed)
    items = [
        make_instance(
            rng,
            spec["engine"],
            status=spec["status"],
            patch_available=spec["patch"],
            actions=["RESTART"] if spec["busy"] else [],
        )
        for spec in fleet
    ]
    snap = snapshot(items)
    ids = [i["id"] for i in items]
    if mode == "ids" and ids:
        chosen = [*rng.sample(ids, rng.randint(1, len(ids))), instance_id(rng)]
        request = RunRequest(instance_ids=chosen, max_in_flight=rng.choice([1, 5, "50%", "100%"]))
        expected = set(chosen)
    elif mode == "sel":
        engines = rng.sample(["cassandra", "influxdb", "redis"], rng.randint(1, 3))
        request = RunRequest(selector=Selector(engines=engines), max_in_flight=rng.choice([1, 5, "50%", "100%"]))  # type: ignore[arg-type]
        expected = {i["id"] for i in items if i["datastore"]["type"] in engines}
    else:
        request = RunRequest(max_in_flight=rng.choice([0, 3, "10%", "100%"]))
        expected = set(ids)
    # WHEN planning
    result = plan_of(snap, request)
    # THEN every instance in scope appears exactly once, in a hold or in one batch
    placed = [s.instance_id for s in result.holds] + [i for b in result.batches for i in b.instance_ids]
    assert sorted(placed) == sorted(expected)
    # AND no batch exceeds ten IDs or mixes engines
    for batch in result.batches:
        assert 1 <= len(batch.instances) <= 10
        assert {i.engine for i in batch.instances} == {batch.engine}
    # AND never more in flight than the limit allows
    assert sum(len(b.instances) for b in result.batches) <= max(0, result.rollout.max_in_flight)
