"""Fleet throughput: apply on 2,000 eligible instances over 3 engines, 50 ms per request, at concurrency C.

Printed with two baselines: the floor of round trips that must happen one after another at C, each x 50 ms
(the first page, which gives ``total_count``; the other pages C at a time; the batches C at a time; the job and
task reads run beside the pages, so they add nothing), and a sequential run (one call at a time, as the official
SDK examples do), alternated with the concurrent runs. Medians of ``RUNS`` pairs, with the spread.
"""

from __future__ import annotations

import contextlib
import io
import json
import math
import random
import statistics
import time
from typing import Any

from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator.fleet import instance_id

try:
    from tests.benchmarks.remote_simulator import calls_per_route, environment, remote_simulator
except ImportError:  # run as a script: python tests/benchmarks/bench_throughput.py
    from remote_simulator import calls_per_route, environment, remote_simulator  # type: ignore[no-redef]

INSTANCES = 2000
LATENCY = 0.05
CONCURRENCY = 8
PAGE = 100
BATCH = 10
RUNS = 3
REQUEST = {"mode": "apply", "window": "anytime", "max_in_flight": "100%", "max_errors": "100%", "notify": False}


def fleet() -> dict[str, Any]:
    rng = random.Random(2000)
    engines = ("cassandra", "influxdb", "redis")
    return {
        "instances": [
            {"id": instance_id(rng), "name": f"db-{n:05d}", "datastore": {"type": engines[n % 3]}}
            for n in range(INSTANCES)
        ]
    }


def apply_once(concurrency: int) -> tuple[float, dict[str, int], int]:
    """Seconds for one apply through the real handler, the calls per route, and the most calls in flight."""
    with remote_simulator(fleet(), latency=LATENCY) as base_url:
        handler = make_handler(environment(base_url, concurrency))
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            report = handler(dict(REQUEST), LocalContext(timeout_ms=3_600_000))
        elapsed = time.perf_counter() - started
        calls, peak = calls_per_route(base_url)
    assert report["counts"]["submitted"] == INSTANCES, report["counts"]
    return elapsed, calls, peak


def floor_seconds(concurrency: int) -> float:
    pages = math.ceil(INSTANCES / PAGE)
    per_engine = [len(range(e, INSTANCES, 3)) for e in range(3)]  # one engine per batch: 667, 667, 666
    batches = sum(math.ceil(n / BATCH) for n in per_engine)
    trips = 1 + math.ceil((pages - 1) / concurrency) + math.ceil(batches / concurrency)
    return trips * LATENCY


def main() -> dict[str, float]:
    """Measure, print, return the figures."""
    concurrent: list[float] = []
    sequential: list[float] = []
    peaks: list[int] = []
    calls: dict[str, int] = {}
    for _ in range(RUNS):
        elapsed, calls, peak = apply_once(CONCURRENCY)
        concurrent.append(elapsed)
        peaks.append(peak)
        sequential.append(apply_once(1)[0])
    measured, one_at_a_time = statistics.median(concurrent), statistics.median(sequential)
    floor = floor_seconds(CONCURRENCY)
    figures = {
        "measured_s": measured,
        "measured_min_s": min(concurrent),
        "measured_max_s": max(concurrent),
        "floor_s": floor,
        "sequential_s": one_at_a_time,
        "vs_floor": measured / floor,
        "speedup_vs_sequential": one_at_a_time / measured,
        "peak_in_flight": max(peaks),
    }
    print(
        f"throughput ({INSTANCES} instances, 3 engines, {LATENCY * 1000:.0f} ms/request, C={CONCURRENCY}, "
        f"median of {RUNS} alternated pairs): measured {measured:.2f} s ({min(concurrent):.2f} to "
        f"{max(concurrent):.2f}), floor {floor:.2f} s, sequential {one_at_a_time:.2f} s ({min(sequential):.2f} to "
        f"{max(sequential):.2f}); measured/floor {figures['vs_floor']:.2f} (goal <= 1.25), "
        f"sequential/measured {figures['speedup_vs_sequential']:.1f}x (goal >= 5); most calls in flight "
        f"{max(peaks)} (never more than C={CONCURRENCY}); calls {calls}"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
