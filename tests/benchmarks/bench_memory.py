"""Memory at scale: plan and apply over 10,000 and 50,000 instances, each in a fresh process; peak RSS.

Goals: 100 MiB at 10,000 and 128 MB (Lambda's smallest size, 122 MiB) at 50,000. At 10,000 it is measured twice:
the whole invocation (the report built, logged as JSON and returned), and the engine alone (observe, plan,
submit) without building or serialising the report, to show what the report costs.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
from typing import Any

try:
    from tests.benchmarks.remote_simulator import environment, remote_simulator
except ImportError:  # run as a script
    from remote_simulator import environment, remote_simulator  # type: ignore[no-redef]

INSTANCES = 10_000
LARGE = 50_000
GOAL_MIB = 100
LAMBDA_SMALLEST_MIB = 128_000_000 / 1_048_576
CHILD = r"""
import contextlib, io, json, os, re, sys
mode, variant = sys.argv[1], sys.argv[2]
request = {"mode": mode, "window": "anytime", "max_in_flight": "100%", "max_errors": "100%", "notify": False}
sink = io.StringIO() if variant == "full" else open(os.devnull, "w")
if variant == "full":
    from geminidb_local.lambda_shim import LocalContext
    from geminidb_local.lambda_shim import make_handler
    with contextlib.redirect_stdout(open(os.devnull, "w")):
        report = make_handler(os.environ)(request, LocalContext(timeout_ms=3_600_000))
    size = len(json.dumps(report))
    counts = report["counts"]
else:
    from datetime import UTC, datetime
    from geminidb_patcher.contract.request import RunRequest
    from geminidb_patcher.reconcile.act import ActSettings, Submitter
    from geminidb_patcher.reconcile.budget import ErrorBudget
    from geminidb_patcher.reconcile.observe import observe
    from geminidb_patcher.reconcile.plan import Policy, plan
    from geminidb_patcher.config.wiring import Wiring
    runtime = Wiring.from_environ(os.environ)
    target = runtime.settings.default_target
    port = runtime.client(target)
    parsed = RunRequest.model_validate(request)
    now = datetime.now(UTC)
    snapshot = observe(port, target, now, parsed, runtime.settings.submit_concurrency)
    result = plan([snapshot], parsed, Policy.resolve(parsed, "direct"), now)
    size = 0
    counts = {"planned": sum(len(b.instances) for b in result.batches)}
    if mode == "apply":
        settings = ActSettings(runtime.settings.submit_concurrency, 0)
        submitter = Submitter(lambda t: port, settings, ErrorBudget(10**6), clock=lambda: datetime.now(UTC),
                              remaining_ms=lambda: 3_600_000, on_batch=lambda r: None)
        outcomes, _ = submitter.run(result.batches)
        counts = {"submitted": sum(1 for o in outcomes if o.outcome == "submitted")}
peak = int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read()).group(1))
print(json.dumps({"rss_kib": peak, "report_bytes": size, "counts": counts}))
"""


def fleet(count: int) -> dict[str, Any]:
    rng = random.Random(count)
    engines = ("cassandra", "influxdb", "redis")
    return {
        "instances": [
            {"id": f"{rng.getrandbits(128):032x}in06", "name": f"db-{n:05d}", "datastore": {"type": engines[n % 3]}}
            for n in range(count)
        ]
    }


def measure(mode: str, variant: str, count: int = INSTANCES) -> dict[str, Any]:
    with remote_simulator(fleet(count)) as base_url:
        result = subprocess.run(
            [sys.executable, "-c", CHILD, mode, variant],
            env={**environment(base_url, 8), "PATH": "", "PYTHONPATH": ":".join(sys.path)},
            capture_output=True,
            text=True,
            check=False,
            timeout=600,
        )
    if result.returncode != 0:
        raise RuntimeError(f"the measured process failed: {result.stderr[-2000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def main() -> dict[str, float]:
    """Measure, print, return the figures."""
    figures: dict[str, float] = {}
    for mode in ("plan", "apply"):
        for variant in ("full", "engine"):
            measured = measure(mode, variant)
            figures[f"{mode}_{variant}_mib"] = measured["rss_kib"] / 1024
            if variant == "full":
                figures[f"{mode}_report_mib"] = measured["report_bytes"] / 1_048_576
        figures[f"{mode}_{LARGE}_mib"] = measure(mode, "full", LARGE)["rss_kib"] / 1024
    print(
        f"memory (peak RSS): {INSTANCES:,} instances (goal <= {GOAL_MIB} MiB): plan {figures['plan_full_mib']:.1f} "
        f"MiB with the report (answer {figures['plan_report_mib']:.1f} MiB of JSON), "
        f"{figures['plan_engine_mib']:.1f} MiB without; apply {figures['apply_full_mib']:.1f} MiB with the report "
        f"(answer {figures['apply_report_mib']:.1f} MiB of JSON), {figures['apply_engine_mib']:.1f} MiB without. "
        f"{LARGE:,} instances (goal <= {LAMBDA_SMALLEST_MIB:.0f} MiB): plan {figures[f'plan_{LARGE}_mib']:.1f} MiB, "
        f"apply {figures[f'apply_{LARGE}_mib']:.1f} MiB"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
