"""Learning upgrade durations from the jobs a run read: which count, the rule, and what can only raise it."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from geminidb_patcher.reconcile.durations import MIN_SAMPLES, learn
from geminidb_patcher.reconcile.snapshot import InstanceView, JobView
from tests.helpers import api_item, make_instance

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)
RNG = random.Random(9)


def view(engine: str = "cassandra", nodes: int = 3) -> InstanceView:
    return InstanceView.from_api(api_item(make_instance(RNG, engine, node_count=nodes)))


def job(instance: InstanceView, minutes: float, status: str = "Completed", days_ago: int = 2) -> JobView:
    started = NOW - timedelta(days=days_ago)
    ended = started + timedelta(minutes=minutes) if status != "Running" else None
    return JobView(f"j-{minutes}-{status}", instance.id, instance.name, status, started, ended, "", "")


def test_the_p90_of_enough_completed_upgrades_replaces_the_guide_either_way() -> None:
    fleet = [view() for _ in range(10)]
    durations = learn(fleet, [job(v, m) for v, m in zip(fleet, range(101, 111), strict=True)], NOW)
    estimate = durations.for_instance(view())
    assert estimate.duration == timedelta(minutes=109) * 1.2  # nearest rank: the 9th of 10
    assert estimate.source == "observed p90 of 10 upgrades of 3-node Cassandra instances, +20%"
    short = learn(fleet[:MIN_SAMPLES], [job(v, 4) for v in fleet[:MIN_SAMPLES]], NOW).for_instance(view())
    assert short.duration == timedelta(minutes=4.8)  # below Huawei's 16 min: five samples say so


def test_fewer_samples_only_raise_and_other_groups_keep_the_guide() -> None:
    fleet = [view() for _ in range(3)]
    few = learn(fleet, [job(v, 4) for v in fleet], NOW)
    assert few.for_instance(view()).source == "Huawei's guide"
    assert few.for_instance(view()).duration == timedelta(minutes=16)
    slow = learn(fleet, [job(fleet[0], 60)], NOW)
    assert slow.for_instance(view()).duration == timedelta(minutes=72)
    assert slow.for_instance(view("cassandra", 5)).source == "Huawei's guide"  # another node count
    assert slow.for_instance(view("redis")).duration == timedelta(minutes=21)


def test_failed_jobs_are_not_durations_and_an_instances_own_history_or_a_long_run_raises_it() -> None:
    fleet = [view() for _ in range(6)]
    jobs = [job(v, 10) for v in fleet[:5]] + [job(fleet[5], 300, "Failed")]
    learned = learn(fleet, jobs, NOW)
    assert learned.buckets[("cassandra", 3)].samples == 5
    assert learned.for_instance(fleet[5]).duration == timedelta(minutes=12)
    more = [view() for _ in range(10)]
    history = [job(v, 10) for v in more] + [job(fleet[5], 50, days_ago=3)]  # the p90 of 11 stays 10 min
    own = learn([*fleet, *more], history, NOW)
    assert own.for_instance(fleet[5]).duration == timedelta(minutes=60)
    assert own.for_instance(fleet[5]).source == "its own longest upgrade, 50 min, +20%"
    assert own.for_instance(more[0]).duration == timedelta(minutes=12)
    running = JobView("r", fleet[0].id, fleet[0].name, "Running", NOW - timedelta(minutes=40), None, "", "")
    raised = learn(fleet, [*jobs, running], NOW).for_instance(view())
    assert raised.duration == timedelta(minutes=48) and "running 40 min" in raised.source


def test_no_history_is_exactly_the_guide() -> None:
    assert learn([view()], [], NOW).buckets == {}
    assert learn([view()], [], NOW).for_instance(view()).source == "Huawei's guide"
