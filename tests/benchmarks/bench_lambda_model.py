"""The cold answer on Lambda's own CPU model: init at full speed, an invocation at its memory's share of a vCPU.

Each sample is a fresh CPython 3.13 running the AWS Lambda runtime interface client (``awslambdaric``) on a
read-only host twin of the artifact (with its bytecode), polling the project's Runtime API emulator; the function
talks to the simulator in its own process. A probe module wraps the real handler and records, per process: init
wall time (from spawning the interpreter until the handler module is imported, which is what Lambda's init phase
runs), and for the first and a second (warm) invocation their wall time and their CPU seconds (every thread).

Lambda gives init a burst of CPU and an invocation CPU in proportion to its memory (1,769 MB is one vCPU). So the
cold answer a caller sees at ``M`` MB is modelled as ``init + first_cpu * 1769 / M + first_io`` (I/O = wall - CPU),
and the floor as the init of a handler importing ``requests``, ``pydantic`` and Powertools' Logger and Metrics at
module level, plus the function's warm invocation at the same share (``warm_cpu * 1769 / M + warm_io``): the work
no placement of code can avoid. A model, not a measurement on Lambda: it leaves out Lambda's own start-up (the
sandbox, fetching the code), the network to real endpoints, and the Parameters and Secrets extension.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

try:
    from tests.benchmarks.bench_cold_start import build_twin, fleet
    from tests.benchmarks.remote_simulator import environment, remote_simulator
except ImportError:  # run as a script
    from bench_cold_start import build_twin, fleet  # type: ignore[no-redef]
    from remote_simulator import environment, remote_simulator  # type: ignore[no-redef]

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import signed_run_event
from geminidb_local.runtime_api import RuntimeApi

RUNS = 7
ONE_VCPU_MB = 1769
MEMORY_SIZES = (128, 256, 512, 1024)
RIC_VERSION = "4.2.2"
GOAL_FIRST_VS_WARM = 1.25
GOAL_VS_FLOOR = 1.3
KINDS = ("scheduled", "webhook", "floor")
PLAN = {"mode": "plan", "window": "anytime", "max_in_flight": "100%", "notify": False}
PROBE = r"""
import json, os, sys, time
SPAWNED = float(os.environ["BENCH_SPAWNED"])
KIND = os.environ["BENCH_KIND"]
if KIND == "floor":
    import requests, pydantic
    from aws_lambda_powertools import Logger, Metrics
    Logger(), Metrics()
    def _real(event, context):
        return {}
else:
    from geminidb_patcher.entrypoints import handler as _module
    _real = _module.scheduled_handler if KIND == "scheduled" else _module.webhook_handler
INIT_WALL = time.time() - SPAWNED

def handler(event, context):
    wall, cpu = time.perf_counter(), time.process_time()
    answer = _real(event, context)
    record = {"init_wall": INIT_WALL, "wall": time.perf_counter() - wall, "cpu": time.process_time() - cpu}
    with open(os.environ["BENCH_OUT"], "a") as out:
        out.write(json.dumps(record) + "\n")
    return answer
"""
BOOTSTRAP = r"""
import runpy, sys
sys.path[:0] = sys.argv[1:4]
sys.argv = ["awslambdaric", "probe_handler.handler"]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def _events(kind: str, secret: str) -> list[dict[str, Any]]:
    if kind == "webhook":
        return [signed_run_event(secret, json.dumps(PLAN).encode()) for _ in range(2)]
    return [dict(PLAN), dict(PLAN)]


def sample(interpreter: str, paths: tuple[Path, Path, Path], kind: str, env: dict[str, str]) -> dict[str, float]:
    """One fresh runtime client process: init wall, then the first and the warm invocation's wall and CPU."""
    probe, twin, ric = paths
    with tempfile.TemporaryDirectory() as tmp, RuntimeApi() as runtime:
        out = Path(tmp) / "records.jsonl"
        environ = {
            **env,
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "BENCH_KIND": kind,
            "_HANDLER": f"geminidb_patcher.entrypoints.handler.{kind}_handler",  # as Lambda sets it
            "BENCH_OUT": str(out),
            "LAMBDA_TASK_ROOT": str(twin),
        }
        events = _events(kind, env["WEBHOOK_SECRET"])
        environ["BENCH_SPAWNED"] = repr(time.time())
        command = [interpreter, "-I", "-B", "-c", BOOTSTRAP, str(probe), str(twin), str(ric)]
        process = subprocess.Popen(command, env=environ, cwd=twin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            for event in events:  # one at a time: the second is warm only once the first has answered
                answer = runtime.answer(runtime.invoke(event), 120)
                if answer is None or not answer.ok:
                    raise RuntimeError(f"{kind}: the invocation failed: {answer}")
        finally:
            process.terminate()
            process.wait(timeout=30)
        first, warm = (json.loads(line) for line in out.read_text().splitlines()[:2])
    return {
        "init": first["init_wall"],
        "first_cpu": first["cpu"],
        "first_io": max(0.0, first["wall"] - first["cpu"]),
        "warm_cpu": warm["cpu"],
        "warm_io": max(0.0, warm["wall"] - warm["cpu"]),
    }


def modelled(entry: dict[str, float], memory: int, *, first: bool) -> float:
    """Seconds a caller waits at ``memory`` MB: init (at burst speed) plus the invocation's CPU at its share."""
    share = ONE_VCPU_MB / memory
    if first:
        return entry["init"] + entry["first_cpu"] * share + entry["first_io"]
    return entry["warm_cpu"] * share + entry["warm_io"]


def _ms(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms ({min(values) * 1000:.0f}-{max(values) * 1000:.0f})"


def main() -> dict[str, Any]:
    """Measure, print, return the figures (empty without a CPython 3.13 and uv; ``dev.py bench`` finds both)."""
    interpreter, uv = os.environ.get("BENCH_PYTHON313"), os.environ.get("BENCH_UV")
    if not interpreter or not uv:
        print("Lambda CPU model: skipped, no CPython 3.13 (Lambda's runtime); run it through python3 dev.py bench")
        return {}
    secret = new_webhook_secret()
    with tempfile.TemporaryDirectory() as tmp, remote_simulator(fleet()) as base_url:
        probe, twin, ric = Path(tmp) / "probe", Path(tmp) / "twin", Path(tmp) / "ric"
        build_twin(twin, interpreter, bytecode=True)
        install = [uv, "pip", "install", "--quiet", "--only-binary", ":all:", "--python", interpreter]
        subprocess.run([*install, "--target", str(ric), f"awslambdaric=={RIC_VERSION}"], check=True)
        probe.mkdir()
        (probe / "probe_handler.py").write_text(PROBE)
        env = {
            **environment(base_url, 8),
            "PATH": os.environ.get("PATH", ""),
            "WEBHOOK_SECRET": secret,
            "AWS_LAMBDA_FUNCTION_NAME": "geminidb-patcher",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": "ap-southeast-1",
            "POWERTOOLS_SERVICE_NAME": "geminidb-patcher",
            "POWERTOOLS_METRICS_NAMESPACE": "GeminiDBPatcher",
        }
        paths = (probe, twin, ric)
        for kind in KINDS:
            sample(interpreter, paths, kind, env)  # the OS file cache warmed for every side
        samples: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
        for _ in range(RUNS):
            for kind in KINDS:
                samples[kind].append(sample(interpreter, paths, kind, env))
    floor_init = [entry["init"] for entry in samples["floor"]]
    figures: dict[str, Any] = {"floor_init_ms": statistics.median(floor_init) * 1000, "functions": {}}
    lines = [
        (
            f"Lambda CPU model ({RUNS} alternated cold starts per side under awslambdaric {RIC_VERSION}, host twin "
            f"with .pyc, a plan over {len(fleet()['instances'])} instances; cold = init + first CPU x 1769/MB + I/O; "
            f"floor = init of requests + pydantic + Logger + Metrics ({_ms(floor_init)}) + the warm invocation at "
            "the same share):"
        )
    ]
    for kind in ("scheduled", "webhook"):
        entries = samples[kind]
        first_vs_warm = sorted(e["first_cpu"] / e["warm_cpu"] for e in entries)
        per_size: dict[int, dict[str, float]] = {}
        for memory in MEMORY_SIZES:
            cold = [modelled(e, memory, first=True) for e in entries]
            floor = [f + modelled(e, memory, first=False) for f, e in zip(floor_init, entries, strict=True)]
            ratios = sorted(c / f for c, f in zip(cold, floor, strict=True))
            per_size[memory] = {
                "cold_ms": statistics.median(cold) * 1000,
                "floor_ms": statistics.median(floor) * 1000,
                "ratio": statistics.median(ratios),
                "ratio_min": ratios[0],
                "ratio_max": ratios[-1],
            }
        figures["functions"][kind] = {
            "init_ms": statistics.median(e["init"] for e in entries) * 1000,
            "first_cpu_ms": statistics.median(e["first_cpu"] for e in entries) * 1000,
            "warm_cpu_ms": statistics.median(e["warm_cpu"] for e in entries) * 1000,
            "first_vs_warm": statistics.median(first_vs_warm),
            "first_vs_warm_range": (first_vs_warm[0], first_vs_warm[-1]),
            "sizes": per_size,
        }
        sizes = "; ".join(
            f"{m} MB {v['cold_ms']:.0f} vs {v['floor_ms']:.0f} ms = {v['ratio']:.2f} ({v['ratio_min']:.2f}-"
            f"{v['ratio_max']:.2f})"
            for m, v in per_size.items()
        )
        lines.append(
            f"  {kind}: init {_ms([e['init'] for e in entries])}, first invocation CPU "
            f"{_ms([e['first_cpu'] for e in entries])}, warm CPU {_ms([e['warm_cpu'] for e in entries])}, "
            f"first/warm {statistics.median(first_vs_warm):.2f} ({first_vs_warm[0]:.2f}-{first_vs_warm[-1]:.2f}; "
            f"goal <= {GOAL_FIRST_VS_WARM}); cold vs floor: {sizes} (goal <= {GOAL_VS_FLOOR} at 256 MB)"
        )
    print("\n".join(lines))
    return figures


if __name__ == "__main__":
    print(json.dumps(main(), indent=2))
