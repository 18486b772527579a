"""``python3 dev.py bench``: every benchmark, then one table (the README's Performance section)."""

from __future__ import annotations

import os
import platform
import sys

from tests.benchmarks import bench_cold_start, bench_cpu, bench_memory, bench_planner, bench_throughput


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"
    )


def main() -> int:
    cold = bench_cold_start.main()
    throughput = bench_throughput.main()
    memory = bench_memory.main()
    planner = bench_planner.main()
    cpu = bench_cpu.main()
    rows = [
        (
            "cold start: init (import handler)",
            f"{cold['init_ms']:.0f} ms",
            f"{cold['baseline_ms']:.0f} ms (requests + pydantic + Logger)",
            f"{cold['init_ratio']:.2f}",
            "<= 1.3",
        ),
        (
            "cold start: init + first-invocation load",
            f"{cold['first_invocation_load_ms']:.0f} ms",
            f"{cold['baseline_ms']:.0f} ms",
            f"{cold['first_invocation_ratio']:.2f}",
            "(reported)",
        ),
        (
            "apply 2,000 instances, 50 ms/request, C=8",
            f"{throughput['measured_s']:.2f} s",
            f"floor {throughput['floor_s']:.2f} s",
            f"{throughput['vs_floor']:.2f}",
            "<= 1.25",
        ),
        (
            "same, vs one call at a time",
            f"{throughput['measured_s']:.2f} s",
            f"sequential {throughput['sequential_s']:.2f} s",
            f"{throughput['speedup_vs_sequential']:.1f}x faster",
            ">= 5x",
        ),
        (
            "peak RSS, plan 10,000 (with / without report)",
            f"{memory['plan_full_mib']:.0f} / {memory['plan_engine_mib']:.0f} MiB",
            "100 MiB",
            f"{memory['plan_full_mib'] / 100:.2f}",
            "<= 1.0",
        ),
        (
            "peak RSS, apply 10,000 (with / without report)",
            f"{memory['apply_full_mib']:.0f} / {memory['apply_engine_mib']:.0f} MiB",
            "100 MiB",
            f"{memory['apply_full_mib'] / 100:.2f}",
            "<= 1.0",
        ),
        (
            "plan() CPU, 10,000 instances",
            f"{planner['plan_10000_ms']:.1f} ms",
            "50 ms",
            f"{planner['plan_10000_ms'] / 50:.2f}",
            "<= 1.0",
        ),
        (
            "function CPU per instance, warm apply of 2,000",
            f"{cpu['cpu_us_per_instance']:.0f} µs ({cpu['cpu_us_min']:.0f} to {cpu['cpu_us_max']:.0f})",
            "150 µs",
            f"{cpu['cpu_us_per_instance'] / 150:.2f}",
            "<= 1.0",
        ),
        (
            "plan() growth, 1,000 → 100,000",
            f"{planner['plan_1000_ms']:.1f} → {planner['plan_100000_ms']:.0f} ms",
            "100x (linear)",
            f"{planner['growth_1k_to_100k']:.0f}x",
            "about 100x",
        ),
    ]
    print(f"\nmachine: {machine()}\n")
    print("| figure | measured | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
