"""Cold start as a caller pays it, on a host-platform twin of the built artifact, against the stack's floor.

The twin holds the same files as ``sam build``'s artifact (the package and its pinned wheels, for this machine's
platform instead of arm64) in a read-only directory. Each sample is a fresh CPython 3.13 (Lambda's runtime)
with ``-B -I`` and only the twin on ``sys.path``, timing three steps: init (import the handler module), the first
invocation (a plan over ``INSTANCES`` instances against the simulator, in its own process) and the same call
warm. The cold start a caller sees is init + first invocation - the warm call (the API's own time is in both).
The floor is the same interpreter importing only requests, pydantic and the Powertools Logger from the twin.
Samples alternate twin with bytecode, twin without, and floor; each figure is the median, with the spread.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import stat
import statistics
import subprocess
import tempfile
from pathlib import Path
from typing import Any

try:
    from tests.benchmarks.remote_simulator import environment, remote_simulator
except ImportError:  # run as a script
    from remote_simulator import environment, remote_simulator  # type: ignore[no-redef]

from geminidb_local.simulator.fleet import instance_id

ROOT = Path(__file__).resolve().parents[2]
RUNS = 9
GOAL = 1.3
INSTANCES = 130
CHILD = r"""
import sys, time
sys.path.insert(0, sys.argv[1])
started = time.perf_counter()
if sys.argv[2] == "floor":
    import requests, pydantic
    from aws_lambda_powertools import Logger
    print(time.perf_counter() - started, 0.0, 0.0)
    raise SystemExit
import contextlib, io
from geminidb_patcher.entrypoints.handler import scheduled_handler
init = time.perf_counter() - started

class Context:
    function_name = "bench"; memory_limit_in_mb = 256; aws_request_id = "bench"
    invoked_function_arn = "arn:aws:lambda:ap-southeast-1:000000000000:function:bench"
    def get_remaining_time_in_millis(self): return 600_000

event = {"mode": "plan", "window": "anytime", "max_in_flight": "100%", "notify": False}
timings = []
with contextlib.redirect_stdout(io.StringIO()):
    for _ in range(2):
        begun = time.perf_counter()
        report = scheduled_handler(dict(event), Context())
        timings.append(time.perf_counter() - begun)
assert report["counts"]["planned"] == int(sys.argv[3]), report["counts"]
print(init, timings[0], timings[1])
"""


def build_twin(directory: Path, interpreter: str, bytecode: bool) -> None:
    """The artifact's files for this platform, as the Makefile builds them; read-only once built."""
    subprocess.run(
        [os.environ["BENCH_UV"], "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:",
         "--python", interpreter, "--target", str(directory), "-r", str(ROOT / "src" / "requirements.txt")],
        check=True,
    )  # fmt: skip
    shutil.copytree(ROOT / "src" / "geminidb_patcher", directory / "geminidb_patcher")
    for cache in list(directory.rglob("__pycache__")):
        shutil.rmtree(cache)
    if bytecode:
        command = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
        subprocess.run([*command, str(directory)], check=True, stdout=subprocess.DEVNULL)
    for path in directory.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def fleet() -> dict[str, Any]:
    rng = random.Random(INSTANCES)
    engines = ("cassandra", "influxdb", "redis")
    return {
        "instances": [
            {"id": instance_id(rng), "name": f"db-{n:04d}", "datastore": {"type": engines[n % 3]}}
            for n in range(INSTANCES)
        ]
    }


def sample(interpreter: str, twin: Path, kind: str, env: dict[str, str]) -> tuple[float, float, float]:
    """Init, first invocation and warm invocation seconds of one fresh interpreter."""
    command = [interpreter, "-B", "-I", "-c", CHILD, str(twin), kind, str(INSTANCES)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"the measured interpreter failed: {result.stderr[-1500:]}")
    init, first, warm = (float(value) for value in result.stdout.split())
    return init, first, warm


def _spread(values: list[float]) -> str:
    return f"{statistics.median(values) * 1000:.0f} ms ({min(values) * 1000:.0f} to {max(values) * 1000:.0f})"


def main() -> dict[str, float]:
    """Measure, print, return the figures (empty without a CPython 3.13; ``dev.py bench`` finds one, and uv)."""
    interpreter = os.environ.get("BENCH_PYTHON313")
    if not interpreter or not os.environ.get("BENCH_UV"):
        print("cold start: skipped, no CPython 3.13 (Lambda's runtime) found; run it through python3 dev.py bench")
        return {}
    with tempfile.TemporaryDirectory() as tmp, remote_simulator(fleet()) as base_url:
        twins = {"bytecode": Path(tmp) / "with", "source": Path(tmp) / "without"}
        for kind, directory in twins.items():
            build_twin(directory, interpreter, bytecode=kind == "bytecode")
        env = {
            **environment(base_url, 8),
            "PATH": os.environ.get("PATH", ""),
            "POWERTOOLS_SERVICE_NAME": "geminidb-patcher",
            "POWERTOOLS_METRICS_NAMESPACE": "GeminiDBPatcher",
        }
        plan = [("bytecode", twins["bytecode"]), ("source", twins["source"]), ("floor", twins["bytecode"])]
        for kind, twin in plan:
            sample(interpreter, twin, kind, env)  # warm the OS file cache for every side
        samples: dict[str, list[tuple[float, float, float]]] = {kind: [] for kind, _ in plan}
        for _ in range(RUNS):
            for kind, twin in plan:
                samples[kind].append(sample(interpreter, twin, kind, env))
        for directory in twins.values():
            for path in directory.rglob("*"):
                path.chmod(path.stat().st_mode | stat.S_IWUSR)
    floor = [init for init, _, _ in samples["floor"]]
    figures: dict[str, float] = {"floor_ms": statistics.median(floor) * 1000}
    lines = []
    for kind in ("bytecode", "source"):
        init = [i for i, _, _ in samples[kind]]
        caller = [i + first - warm for i, first, warm in samples[kind]]
        ratios = sorted(c / f for c, f in zip(caller, floor, strict=True))
        figures[f"{kind}_init_ms"] = statistics.median(init) * 1000
        figures[f"{kind}_cold_ms"] = statistics.median(caller) * 1000
        figures[f"{kind}_ratio"] = statistics.median(ratios)
        figures[f"{kind}_ratio_min"], figures[f"{kind}_ratio_max"] = ratios[0], ratios[-1]
        lines.append(
            f"{'with' if kind == 'bytecode' else 'without'} the shipped .pyc: init {_spread(init)}, "
            f"init + first invocation - warm {_spread(caller)}, ratio to the floor {statistics.median(ratios):.2f} "
            f"({ratios[0]:.2f} to {ratios[-1]:.2f})"
        )
    print(
        f"cold start (host twin of the artifact, CPython 3.13 -B -I, read-only, {RUNS} alternated runs, "
        f"plan over {INSTANCES} instances; goal <= {GOAL}x the floor): floor (requests + pydantic + Logger) "
        f"{_spread(floor)}; " + "; ".join(lines)
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
