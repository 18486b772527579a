"""Function CPU per instance: a warm apply over 2,000 eligible instances with zero API latency.

The simulator runs in its own process, so ``time.process_time()`` of this process (every thread of the
function) is the function's CPU alone; the simulator's own CPU is read from /proc and printed beside it.
Lambda gives 256 MB about a seventh of a core, so each CPU second is several billed seconds.

Beside it, the HTTP floor: the CPU of as many bare ``requests`` calls (unsigned, answered 401 with a tiny body) as
the apply made, at the same concurrency, to the same simulator: what the HTTP stack alone costs per instance.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from geminidb_local.lambda_shim import LocalContext, make_handler

try:
    from tests.benchmarks.bench_throughput import INSTANCES, REQUEST, fleet
    from tests.benchmarks.remote_simulator import calls_per_route, environment, remote_simulator
except ImportError:  # run as a script
    from bench_throughput import INSTANCES, REQUEST, fleet  # type: ignore[no-redef]
    from remote_simulator import calls_per_route, environment, remote_simulator  # type: ignore[no-redef]

RUNS = 5
GOAL_US = 150.0


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the simulator, once it is stopped)."""
    times = os.times()
    return times.children_user + times.children_system


def http_floor(base_url: str, calls: int) -> float:
    """CPU seconds of ``calls`` bare GETs through one ``requests`` session, 8 at a time."""
    session = requests.Session()
    session.trust_env = False

    def get(_: int) -> bytes:
        return session.get(f"{base_url}/v3/0/instances?offset=0&limit=100", timeout=(3, 20)).content

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(get, range(8)))  # connections open, as the function's are when warm
        started = time.process_time()
        list(pool.map(get, range(calls)))
        return time.process_time() - started


def apply_once() -> tuple[float, float, float]:
    """Function CPU seconds of one warm apply (the second in a fresh container), the simulator's, the HTTP floor."""
    before_children = children_cpu()
    with remote_simulator(fleet()) as base_url:
        handler = make_handler(environment(base_url, 8))
        with contextlib.redirect_stdout(io.StringIO()):
            handler({"mode": "plan", "window": "anytime", "notify": False}, LocalContext())  # warm: imports, pools
            requests.delete(f"{base_url}/_sim/requests", timeout=30)
            started = time.process_time()
            report = handler(dict(REQUEST), LocalContext(timeout_ms=3_600_000))
            used = time.process_time() - started
        calls, _ = calls_per_route(base_url)
        floor = http_floor(base_url, sum(calls.values()))
    assert report["counts"]["submitted"] == INSTANCES, report["counts"]
    return used, children_cpu() - before_children, floor


def main() -> dict[str, float]:
    """Measure, print, return the figures."""
    samples = [apply_once() for _ in range(RUNS)]
    per_instance = sorted(cpu / INSTANCES * 1e6 for cpu, _, _ in samples)
    simulator = statistics.median(sim for _, sim, _ in samples)
    floor = statistics.median(http / INSTANCES * 1e6 for _, _, http in samples)
    figures = {
        "cpu_us_per_instance": statistics.median(per_instance),
        "cpu_us_min": per_instance[0],
        "cpu_us_max": per_instance[-1],
        "http_floor_us": floor,
        "simulator_cpu_s": simulator,
    }
    print(
        f"function CPU per instance, warm apply of {INSTANCES} ({RUNS} runs): median "
        f"{figures['cpu_us_per_instance']:.0f} µs (min {per_instance[0]:.0f}, max {per_instance[-1]:.0f}; goal "
        f"<= {GOAL_US:.0f} µs); bare HTTP floor (as many unsigned requests calls) {floor:.0f} µs per instance; "
        f"simulator CPU per run (whole process, incl. its start) {simulator:.2f} s"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
