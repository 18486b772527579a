"""Planner cost: CPU time of the pure plan function for 1,000 to 100,000 instances (goal: <= 50 ms for 10,000).

The fleet is varied as real ones are: windows starting at any hour and lasting 1 to 4 hours, 2 to 12 nodes, so
the planner's per-(window, duration) cache misses as it would. The baseline in the same run is a loop that only
touches every instance once (the least any planner must do); growth should be about linear.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from geminidb_patcher.contract.request import RunRequest, Target
from geminidb_patcher.reconcile.plan import Policy, plan
from geminidb_patcher.reconcile.snapshot import FleetSnapshot, InstanceView

SIZES = (1_000, 10_000, 100_000)
GOAL_MS = 50.0
TARGET = Target(region="ap-southeast-1", project_id="0" * 32)
NOW = datetime(2026, 1, 1, 3, tzinfo=UTC)


def _window(rng: random.Random) -> str:
    start = rng.randrange(24)
    return f"{start:02d}:00-{(start + rng.randint(1, 4)) % 24:02d}:00"


def snapshot(count: int) -> FleetSnapshot:
    rng = random.Random(count)
    engines = ("cassandra", "influxdb", "redis", "mongodb")
    views = tuple(
        InstanceView(
            id=f"{rng.getrandbits(128):032x}in06",
            name=f"db-{n:06d}",
            engine=engines[n % 4],
            status="normal" if rng.random() < 0.95 else "abnormal",
            patch_available=rng.random() < 0.8,
            version="3.11.5.4",
            actions=(),
            maintenance_window=_window(rng),
            node_count=rng.randint(2, 12),
        )
        for n in range(count)
    )
    return FleetSnapshot(TARGET, views)


def cpu_ms(action: Callable[[], object]) -> float:
    """CPU milliseconds of one ``action()``."""
    started = time.process_time()
    action()
    return (time.process_time() - started) * 1000


def main() -> dict[str, float]:
    """Measure, print, return the figures.

    Each repetition plans at its own moment (a run never reuses the last run's window verdicts), alternating with
    the touch loop, so both see the same machine state; medians with the spread.
    """
    request = RunRequest(mode="apply", max_in_flight="25%", max_errors=5)
    policy = Policy.resolve(request, "schedule")
    figures: dict[str, float] = {}
    for size in SIZES:
        fleet = snapshot(size)
        repeat = 15 if size <= 10_000 else 3
        plans, touches = [], []
        for k in range(repeat):
            now = NOW + timedelta(minutes=7 * k + 1)
            plans.append(cpu_ms(lambda f=fleet, now=now: plan([f], request, policy, now)))
            touches.append(cpu_ms(lambda f=fleet: [i.id for i in f.instances if i.patch_available]))
        figures[f"plan_{size}_ms"] = statistics.median(plans)
        figures[f"plan_{size}_min_ms"], figures[f"plan_{size}_max_ms"] = min(plans), max(plans)
        figures[f"touch_{size}_ms"] = statistics.median(touches)
    growth = figures["plan_100000_ms"] / figures["plan_1000_ms"]
    print(
        "planner (CPU, median, spread): "
        + ", ".join(
            f"{n:,} instances {figures[f'plan_{n}_ms']:.1f} ms ({figures[f'plan_{n}_min_ms']:.1f} to "
            f"{figures[f'plan_{n}_max_ms']:.1f})"
            for n in SIZES
        )
        + f"; goal <= {GOAL_MS:.0f} ms at 10,000; growth 1k→100k {growth:.0f}x for 100x the instances; "
        f"baseline loop at 10,000: {figures['touch_10000_ms']:.2f} ms (plan is "
        f"{figures['plan_10000_ms'] / figures['touch_10000_ms']:.0f}x the loop)"
    )
    figures["growth_1k_to_100k"] = growth
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
