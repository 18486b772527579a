"""The simulator in its own process, so benchmarks measure the function's work, not the fake server's."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

from geminidb_local.simulator.fleet import DEFAULT_PROJECT_ID, DEFAULT_REGION, DEMO_AK, DEMO_SK


@contextlib.contextmanager
def remote_simulator(fleet: dict[str, Any], latency: float = 0.0) -> Iterator[str]:
    """Start ``python -m geminidb_local.simulator`` on a free loopback port; yield its base URL."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "fleet.json"
        path.write_text(json.dumps(fleet))
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "geminidb_local.simulator",
                "--port",
                "0",
                "--fleet",
                str(path),
                "--latency",
                f"{latency}",
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert process.stdout is not None
            line = process.stdout.readline().strip()
            yield line.removeprefix("listening on ")
        finally:
            process.terminate()
            process.wait(timeout=10)


def environment(base_url: str, concurrency: int) -> dict[str, str]:
    """What the function needs to talk to the simulator."""
    return {
        "HUAWEICLOUD_REGION": DEFAULT_REGION,
        "HUAWEICLOUD_SDK_PROJECT_ID": DEFAULT_PROJECT_ID,
        "HUAWEICLOUD_SDK_AK": DEMO_AK,
        "HUAWEICLOUD_SDK_SK": DEMO_SK,
        "GEMINIDB_ENDPOINT": base_url,
        "SUBMIT_CONCURRENCY": str(concurrency),
    }


def calls_per_route(base_url: str) -> tuple[dict[str, int], int]:
    """How many API calls the simulator answered, by route, and the most it answered at once."""
    seen = requests.get(f"{base_url}/_sim/requests", timeout=30).json()
    counts: dict[str, int] = {}
    for exchange in seen["requests"]:
        counts[exchange["route"]] = counts.get(exchange["route"], 0) + 1
    return counts, int(seen["peak_in_flight"])
