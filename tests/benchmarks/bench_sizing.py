"""Memory sized by measurement: the CPU and the round trips of a plan and an apply per fleet size, and what they
cost at each MemorySize on Lambda's CPU model.

For each fleet size a simulator with 50 ms per request runs in its own process; the real handler (in this
process, warm: one small plan first) runs a plan, then an apply of every instance, at ``SUBMIT_CONCURRENCY`` 8.
Per run: CPU seconds of this process (every thread) and wall seconds. On Lambda an invocation gets CPU in
proportion to its memory (1,769 MB = one vCPU), so a run at ``M`` MB is modelled as ``cpu * 1769 / M`` plus the
round-trip floor measured here (wall - CPU: the time spent waiting for the API, which memory does not shorten).
Cost per run = modelled seconds x GB x the published price per GB-second (arm64) + the price of one request.
A model: it ignores that CPU and waiting overlap (so it errs long), and a real API's latency varies.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import time
from typing import Any

from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator.fleet import instance_id

try:
    from tests.benchmarks.remote_simulator import environment, remote_simulator
except ImportError:  # run as a script
    from remote_simulator import environment, remote_simulator  # type: ignore[no-redef]

SIZES = (1_000, 10_000, 50_000)
MEMORY = (256, 512, 1_024, 1_769)
LATENCY = 0.05
CONCURRENCY = 8
ONE_VCPU_MB = 1769
PRICE_PER_GB_SECOND = 0.0000133334
"""AWS Lambda, arm64, first pricing tier, us-east-1: USD 0.0000133334 per GB-second (aws.amazon.com/lambda/pricing,
as published since the arm64 launch in 2021 and still in 2024; not re-read here: this machine has no internet)."""
PRICE_PER_REQUEST = 0.0000002
"""USD 0.20 per million requests (same page)."""
PLAN = {"mode": "plan", "window": "anytime", "max_in_flight": "100%", "notify": False}
APPLY = {**PLAN, "mode": "apply", "max_errors": "100%"}


def fleet(size: int) -> dict[str, Any]:
    rng = random.Random(size)
    engines = ("cassandra", "influxdb", "redis")
    return {
        "instances": [
            {"id": instance_id(rng), "name": f"db-{n:05d}", "datastore": {"type": engines[n % 3]}} for n in range(size)
        ]
    }


def measure(size: int) -> dict[str, tuple[float, float]]:
    """``{"plan": (cpu, wall), "apply": (cpu, wall)}`` seconds for one fleet of ``size``."""
    found: dict[str, tuple[float, float]] = {}
    with remote_simulator(fleet(size), latency=LATENCY) as base_url:
        handler = make_handler(environment(base_url, CONCURRENCY))
        with contextlib.redirect_stdout(io.StringIO()):
            handler({**PLAN, "instance_ids": [fleet(size)["instances"][0]["id"]]}, LocalContext())  # warm
            for kind, request in (("plan", PLAN), ("apply", APPLY)):
                cpu, wall = time.process_time(), time.perf_counter()
                report = handler(dict(request), LocalContext(timeout_ms=3_600_000))
                found[kind] = (time.process_time() - cpu, time.perf_counter() - wall)
                assert report["counts"]["planned" if kind == "plan" else "submitted"] == size, report["counts"]
    return found


def modelled(cpu: float, wall: float, memory: int) -> float:
    """Seconds at ``memory`` MB: the CPU at its share of a vCPU, plus the waiting for the API."""
    return cpu * ONE_VCPU_MB / memory + max(0.0, wall - cpu)


def main() -> dict[str, Any]:
    """Measure, print the table, return the figures."""
    table: dict[str, Any] = {}
    lines = [
        (
            f"sizing (warm runs, {LATENCY * 1000:.0f} ms per API request, C={CONCURRENCY}; modelled = CPU x 1769/MB "
            "+ (wall - CPU); cost at USD 0.0000133334/GB-s + 0.20/M requests, arm64):"
        ),
        "| fleet | run | CPU s | wall s here | " + " | ".join(f"{m} MB: s, USD" for m in MEMORY) + " |",
    ]
    for size in SIZES:
        runs = measure(size)
        for kind, (cpu, wall) in runs.items():
            cells = []
            for memory in MEMORY:
                seconds = modelled(cpu, wall, memory)
                cost = seconds * memory / 1024 * PRICE_PER_GB_SECOND + PRICE_PER_REQUEST
                table[f"{kind}_{size}_{memory}"] = {"seconds": seconds, "usd": cost}
                cells.append(f"{seconds:.1f} s, {cost:.6f}")
            table[f"{kind}_{size}"] = {"cpu": cpu, "wall": wall}
            lines.append(f"| {size:,} | {kind} | {cpu:.2f} | {wall:.1f} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    return table


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
