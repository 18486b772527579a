"""``python3 dev.py bench``: every benchmark, then one table (the README's Performance section)."""

from __future__ import annotations

import os
import platform
import sys

from tests.benchmarks import (
    bench_cold_start,
    bench_compliance,
    bench_cpu,
    bench_lambda_model,
    bench_memory,
    bench_planner,
    bench_sizing,
    bench_throughput,
)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    return (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} CPUs ({cpu}), Python {platform.python_version()}"
    )


def main() -> int:
    cold = bench_cold_start.main()
    model = bench_lambda_model.main()
    throughput = bench_throughput.main()
    memory = bench_memory.main()
    planner = bench_planner.main()
    cpu = bench_cpu.main()
    standing = bench_compliance.main()
    sizing = bench_sizing.main()
    rows = []
    if cold:
        for kind, label in (("bytecode", "with"), ("source", "without")):
            rows.append(
                (
                    f"cold start a caller pays, artifact twin {label} .pyc (init + first plan - warm)",
                    f"{cold[f'{kind}_cold_ms']:.0f} ms (init alone {cold[f'{kind}_init_ms']:.0f} ms)",
                    f"floor {cold['floor_ms']:.0f} ms (requests + pydantic + Logger)",
                    f"{cold[f'{kind}_ratio']:.2f} ({cold[f'{kind}_ratio_min']:.2f} to {cold[f'{kind}_ratio_max']:.2f})",
                    "<= 1.3" if kind == "bytecode" else "(reported)",
                )
            )
    else:
        rows.append(("cold start", "skipped: no CPython 3.13", "", "", "<= 1.3"))
    for kind, function in (model.get("functions") or {}).items():
        at = function["sizes"]
        low, high = function["first_vs_warm_range"]
        rows.append(
            (
                f"{kind} function, first invocation CPU vs a warm one (awslambdaric, init moved work)",
                f"{function['first_cpu_ms']:.0f} vs {function['warm_cpu_ms']:.0f} ms",
                "warm invocation",
                f"{function['first_vs_warm']:.2f} ({low:.2f} to {high:.2f})",
                "<= 1.25",
            )
        )
        for megabytes in bench_lambda_model.MEMORY_SIZES:
            size = at[megabytes]
            rows.append(
                (
                    f"{kind} function, modelled cold answer at {megabytes} MB (init {function['init_ms']:.0f} ms)",
                    f"{size['cold_ms']:.0f} ms",
                    f"floor {size['floor_ms']:.0f} ms",
                    f"{size['ratio']:.2f} ({size['ratio_min']:.2f} to {size['ratio_max']:.2f})",
                    "<= 1.3" if megabytes == 256 else "(reported)",
                )
            )
    rows += [
        (
            "apply 2,000 instances, 50 ms/request, C=8",
            (
                f"{throughput['measured_s']:.2f} s "
                f"({throughput['measured_min_s']:.2f} to {throughput['measured_max_s']:.2f})"
            ),
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
            "most calls in flight, C=8",
            f"{throughput['peak_in_flight']:.0f}",
            "C = 8",
            f"{throughput['peak_in_flight'] / 8:.2f}",
            "<= 1.0",
        ),
        (
            "function CPU per instance, warm apply of 2,000",
            f"{cpu['cpu_us_per_instance']:.0f} µs ({cpu['cpu_us_min']:.0f} to {cpu['cpu_us_max']:.0f})",
            f"150 µs; bare HTTP floor {cpu['http_floor_us']:.0f} µs",
            f"{cpu['cpu_us_per_instance'] / 150:.2f}",
            "<= 1.0",
        ),
        (
            "plan() CPU, 10,000 varied instances",
            f"{planner['plan_10000_ms']:.1f} ms",
            f"50 ms; touch loop {planner['touch_10000_ms']:.2f} ms",
            f"{planner['plan_10000_ms'] / 50:.2f}",
            "<= 1.0",
        ),
        (
            "plan() growth, 1,000 → 100,000",
            f"{planner['plan_1000_ms']:.1f} → {planner['plan_100000_ms']:.0f} ms",
            "100x (linear)",
            f"{planner['growth_1k_to_100k']:.0f}x",
            "about 100x",
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
            "peak RSS, plan / apply 50,000",
            f"{memory['plan_50000_mib']:.0f} / {memory['apply_50000_mib']:.0f} MiB",
            "128 MB = 122 MiB",
            f"{memory['apply_50000_mib'] / (128_000_000 / 1_048_576):.2f}",
            "<= 1.0",
        ),
    ]
    rows += [
        (
            f"compliance + forecast, {size:,} instances (CPU; report and EMF bytes)",
            (
                f"{standing[f'added_{size}_ms']:.1f} ms; +{standing[f'report_bytes_{size}']:,.0f} B, "
                f"{standing[f'emf_records_{size}']:.0f} records / {standing[f'emf_bytes_{size}']:,.0f} B"
            ),
            f"plan() {standing[f'plan_{size}_ms']:.1f} ms",
            f"{standing[f'added_{size}_ms'] / standing[f'plan_{size}_ms']:.2f}",
            "(reported)",
        )
        for size in bench_compliance.SIZES
    ]
    for size in bench_sizing.SIZES:
        for kind in ("plan", "apply"):
            measured = sizing[f"{kind}_{size}"]
            at = {megabytes: sizing[f"{kind}_{size}_{megabytes}"] for megabytes in bench_sizing.MEMORY}
            rows.append(
                (
                    f"{kind} {size:,} instances, 50 ms/request, C=8: CPU s, modelled s and USD per run by MemorySize",
                    f"CPU {measured['cpu']:.2f} s, wall here {measured['wall']:.1f} s",
                    " · ".join(f"{m} MB {v['seconds']:.1f} s ${v['usd']:.6f}" for m, v in at.items()),
                    "",
                    "(sizing)",
                )
            )
    print(f"\nmachine: {machine()}\n")
    print("| figure | measured | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
