"""Cold start: a fresh interpreter that imports the handler module (all it builds at init) vs the stack's floor.

The baseline imports only requests, pydantic and the Powertools Logger: what any function on this stack pays.
Runs alternate, so drift on the machine hits both sides alike; the figure is the median of each.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time

RUNS = 15
GOAL = 1.3
PROBE = "{body}; import re; print(re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1))"
"""Peak RSS from ``VmHWM``: unlike ``ru_maxrss`` it starts afresh at exec, so the parent's size never leaks in."""
SUBJECT = "import geminidb_patcher.handler"
FIRST_CALL = (
    "import geminidb_patcher.handler; from geminidb_patcher.entry import App; "
    "e = App({'HUAWEICLOUD_REGION': 'ap-southeast-1', 'HUAWEICLOUD_SDK_PROJECT_ID': '0' * 32}); e.wiring; "
    "from geminidb_patcher.entry import parse_direct; parse_direct({'mode': 'plan'})"
)
"""Init plus what the first scheduled invocation loads before its first API call (models, runtime, service)."""
BASELINE = "import requests, pydantic; from aws_lambda_powertools import Logger"


def once(body: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of one fresh interpreter running ``body``."""
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", PROBE.format(body=body)], capture_output=True, text=True, check=True)
    return time.perf_counter() - started, int(result.stdout.strip())


def main() -> dict[str, float]:
    """Measure, print the table, return the figures."""
    for body in (SUBJECT, FIRST_CALL, BASELINE):
        once(body)  # warm the OS file cache for every side
    samples: dict[str, list[tuple[float, int]]] = {"init": [], "first": [], "base": []}
    for _ in range(RUNS):
        samples["init"].append(once(SUBJECT))
        samples["first"].append(once(FIRST_CALL))
        samples["base"].append(once(BASELINE))
    wall = {k: statistics.median(s for s, _ in v) * 1000 for k, v in samples.items()}
    rss = {k: statistics.median(m for _, m in v) / 1024 for k, v in samples.items()}
    figures = {
        "init_ms": wall["init"],
        "first_invocation_load_ms": wall["first"],
        "baseline_ms": wall["base"],
        "init_ratio": wall["init"] / wall["base"],
        "first_invocation_ratio": wall["first"] / wall["base"],
        "init_rss_mib": rss["init"],
        "first_invocation_rss_mib": rss["first"],
        "baseline_rss_mib": rss["base"],
    }
    print(
        f"cold start ({RUNS} alternating runs, median): init (import handler) {wall['init']:.0f} ms, "
        f"init + first-invocation load {wall['first']:.0f} ms, baseline {wall['base']:.0f} ms; "
        f"ratios {figures['init_ratio']:.2f} (goal <= {GOAL}) and {figures['first_invocation_ratio']:.2f}; "
        f"peak RSS {rss['init']:.1f} / {rss['first']:.1f} / {rss['base']:.1f} MiB"
    )
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
