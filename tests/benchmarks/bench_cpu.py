"""Function CPU per instance: a warm apply over 2,000 eligible instances with zero API latency.

The simulator runs in its own process, so ``time.process_time()`` of this process (every thread of the
function) is the function's CPU alone; the simulator's own CPU is read from /proc and printed beside it.
Lambda gives 256 MB about a seventh of a core, so each CPU second is several billed seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import statistics
import time

from geminidb_local.lambda_shim import LocalContext, make_handler

try:
    from tests.benchmarks.bench_throughput import INSTANCES, REQUEST, fleet
    from tests.benchmarks.remote_simulator import environment, remote_simulator
except ImportError:  # run as a script
    from bench_throughput import INSTANCES, REQUEST, fleet  # type: ignore[no-redef]
    from remote_simulator import environment, remote_simulator  # type: ignore[no-redef]

RUNS = 5
GOAL_US = 150.0


def children_cpu() -> float:
    """CPU seconds of this process's finished children (the simulator, once it is stopped)."""
    times = os.times()
    return times.children_user + times.children_system


def apply_once() -> tuple[float, float]:
    """Function CPU seconds of one warm apply (the second in a fresh container), and the simulator's."""
    before_children = children_cpu()
    with remote_simulator(fleet()) as base_url:
        handler = make_handler(environment(base_url, 8))
        with contextlib.redirect_stdout(io.StringIO()):
            handler({"mode": "plan", "window": "anytime", "notify": False}, LocalContext())  # warm: imports, pools
            started = time.process_time()
            report = handler(dict(REQUEST), LocalContext(timeout_ms=3_600_000))
            used = time.process_time() - started
    assert report["counts"]["submitted"] == INSTANCES, report["counts"]
    return used, children_cpu() - before_children


def main() -> dict[str, float]:
    """Measure, print, return the figures."""
    samples = [apply_once() for _ in range(RUNS)]
    per_instance = sorted(cpu / INSTANCES * 1e6 for cpu, _ in samples)
    simulator = statistics.median(sim for _, sim in samples)
    figures = {
        "cpu_us_per_instance": statistics.median(per_instance),
        "cpu_us_min": per_instance[0],
        "cpu_us_max": per_instance[-1],
        "simulator_cpu_s": simulator,
    }
    print(
        f"function CPU per instance, warm apply of {INSTANCES} ({RUNS} runs): median "
        f"{figures['cpu_us_per_instance']:.0f} µs (min {per_instance[0]:.0f}, max {per_instance[-1]:.0f}; goal "
        f"<= {GOAL_US:.0f} µs); simulator CPU per run (whole process, incl. its start) {simulator:.2f} s"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
