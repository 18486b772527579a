"""How long an upgrade takes here: learned from the fleet's own completed upgrade jobs, statelessly.

Every run already reads the upgrade jobs of the rollout's lookback. Completed ones give durations, grouped by engine
and node count. The estimate for a group is the 90th percentile (nearest rank) plus a fifth. It replaces Huawei's
documented figure only with at least ``MIN_SAMPLES`` durations; with fewer it can only raise it. An instance's own
past upgrades, and an upgrade running longer than the estimate, can only raise it too. Failed and running jobs are
not durations. No history: Huawei's figure, exactly as before.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from geminidb_patcher.contract.request import engine_name
from geminidb_patcher.reconcile.snapshot import InstanceView, JobView
from geminidb_patcher.reconcile.windows import DEFAULT_NODE_COUNT, guide_duration, minutes_up

QUANTILE = 0.9
MARGIN = 1.2
"""A fifth on top of the observed 90th percentile."""
MIN_SAMPLES = 5
"""Durations a group needs before its estimate may be lower than Huawei's figure."""


@dataclass(frozen=True)
class Estimate:
    """How long an upgrade may take, and where that figure comes from (said in a hold's detail)."""

    duration: timedelta
    source: str


@dataclass(frozen=True)
class Bucket:
    """One engine and node count: what the history says, and the estimate used."""

    engine: str
    nodes: int
    samples: int
    quantile: timedelta | None
    guide: timedelta
    estimate: Estimate


def _quantile(durations: Sequence[timedelta]) -> timedelta:
    ordered = sorted(durations)
    return ordered[max(0, math.ceil(QUANTILE * len(ordered)) - 1)]


def _group(engine: str, nodes: int) -> str:
    return f"{nodes}-node {engine_name(engine)}"


@dataclass
class Durations:
    """The estimates of one run: per engine and node count, and per instance with its own history."""

    buckets: dict[tuple[str, int], Bucket] = field(default_factory=dict)
    own: dict[str, timedelta] = field(default_factory=dict)
    """instance ID → its longest completed upgrade."""

    def for_instance(self, instance: InstanceView) -> Estimate:
        """The estimate for ``instance``: its group's, raised by its own history."""
        key = (instance.engine, instance.node_count or DEFAULT_NODE_COUNT)
        bucket = self.buckets.get(key)
        base = bucket.estimate if bucket else _guide(instance)
        own = self.own.get(instance.id)
        if own is not None and own * MARGIN > base.duration:
            return Estimate(own * MARGIN, f"its own longest upgrade, {minutes_up(own)} min, +20%")
        return base


GUIDE = "Huawei's guide"


def _guide(instance: InstanceView) -> Estimate:
    return Estimate(guide_duration(instance.engine, instance.node_count or DEFAULT_NODE_COUNT), GUIDE)


def learn(instances: Iterable[InstanceView], jobs: Iterable[JobView], now: datetime) -> Durations:
    """The run's estimates from the upgrade jobs it read (no extra call)."""
    views = {instance.id: instance for instance in instances}
    completed: dict[tuple[str, int], list[timedelta]] = {}
    running: dict[tuple[str, int], timedelta] = {}
    own: dict[str, timedelta] = {}
    for job in jobs:
        instance = views.get(job.instance_id)
        if instance is None or job.started_at is None:
            continue
        key = (instance.engine, instance.node_count or DEFAULT_NODE_COUNT)
        if job.status == "Completed" and job.ended_at is not None and job.ended_at > job.started_at:
            took = job.ended_at - job.started_at
            completed.setdefault(key, []).append(took)
            own[instance.id] = max(own.get(instance.id, timedelta(0)), took)
        elif job.status == "Running" and now > job.started_at:
            running[key] = max(running.get(key, timedelta(0)), now - job.started_at)
    durations = Durations(own=own)
    for key in {*completed, *running}:
        engine, nodes = key
        guide = Estimate(guide_duration(engine, nodes), GUIDE)
        samples = completed.get(key, [])
        estimate = guide
        quantile = _quantile(samples) if samples else None
        if quantile is not None:
            learned = quantile * MARGIN
            said = f"observed p90 of {len(samples)} upgrades of {_group(engine, nodes)} instances, +20%"
            if len(samples) >= MIN_SAMPLES or learned > guide.duration:
                estimate = Estimate(learned, said)
        if key in running and running[key] * MARGIN > estimate.duration:
            estimate = Estimate(running[key] * MARGIN, f"an upgrade of a {_group(engine, nodes)} instance running "
                                f"{minutes_up(running[key])} min, +20%")  # fmt: skip
        durations.buckets[key] = Bucket(engine, nodes, len(samples), quantile, guide.duration, estimate)
    return durations
