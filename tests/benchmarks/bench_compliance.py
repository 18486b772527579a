"""What compliance and the forecast add to a run: CPU and bytes at 2,000 and 10,000 instances.

The added work is the compliance block, the forecast, their two digest lines and the EMF records; the baseline in
the same run is ``plan()`` on the same fleet (varied windows and nodes, four engines, a few versions), which every
run pays anyway. Bytes are the JSON the report gains (the webhook answer and the ``run_report`` record carry it)
and the EMF lines written to the log.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from geminidb_patcher.contract.report import EngineCompliance
from geminidb_patcher.contract.request import RunRequest
from geminidb_patcher.contract.tally import FLEET
from geminidb_patcher.notify.digest import compliance_line, forecast_line
from geminidb_patcher.reconcile.compliance import compliance
from geminidb_patcher.reconcile.forecast import forecast
from geminidb_patcher.reconcile.plan import Plan, Policy, plan
from geminidb_patcher.reconcile.snapshot import FleetSnapshot
from geminidb_patcher.run.publish import compliance_metrics
from tests.benchmarks.bench_planner import cpu_ms, snapshot

SIZES = (2_000, 10_000)
REPEAT = 9
NOW = datetime(2026, 1, 1, 3, tzinfo=UTC)


def _versioned(count: int) -> FleetSnapshot:
    """The planner benchmark's fleet with three versions per engine, the newest on the current instances."""
    fleet = snapshot(count)
    views = tuple(
        replace(view, version=f"3.11.5.{3 + (n % 2) if view.patch_available else 5}")
        for n, view in enumerate(fleet.instances)
    )
    return replace(fleet, instances=views)


def _emit(entries: list[EngineCompliance]) -> str:
    """The EMF records a run writes for ``entries``, as the log receives them."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        compliance_metrics(entries)
    return out.getvalue()


def main() -> dict[str, float]:
    """Measure, print, return the figures."""
    request = RunRequest(mode="plan", max_in_flight="25%", max_errors=5)
    policy = Policy.resolve(request, "schedule")
    figures: dict[str, float] = {}
    for size in SIZES:
        fleet = _versioned(size)
        added_ms, plan_ms = [], []
        for k in range(REPEAT):  # each repetition is its own run, at its own moment: plan() first, as in a run
            now = NOW + timedelta(minutes=7 * k + 1)
            plan_ms.append(cpu_ms(lambda fleet=fleet, now=now: plan([fleet], request, policy, now)))
            result = plan([fleet], request, policy, now)

            def added(fleet: FleetSnapshot = fleet, result: Plan = result, now: datetime = now) -> str:
                entries = compliance([fleet], result.holds)
                steps = forecast(result, [], now)
                compliance_line(entries), forecast_line(steps)
                return _emit(entries)

            added_ms.append(cpu_ms(added))
        figures[f"added_{size}_ms"], low, high = statistics.median(added_ms), min(added_ms), max(added_ms)
        figures[f"plan_{size}_ms"] = statistics.median(plan_ms)
        entries = compliance([fleet], result.holds)
        steps = forecast(result, [], now)
        block = {
            "compliance": [entry.model_dump(mode="json") for entry in entries],
            "next_steps": [step.model_dump(mode="json") for step in steps],
        }
        figures[f"report_bytes_{size}"] = len(json.dumps(block).encode())
        emf = _emit(entries)
        figures[f"emf_bytes_{size}"] = len(emf.encode())
        figures[f"emf_records_{size}"] = len(emf.splitlines())
        print(
            f"compliance + forecast, {size:,} instances: {figures[f'added_{size}_ms']:.1f} ms CPU ({low:.1f} to "
            f"{high:.1f}, median of {REPEAT}) = {figures[f'added_{size}_ms'] / figures[f'plan_{size}_ms']:.2f}x "
            f"plan() of the same fleet ({figures[f'plan_{size}_ms']:.1f} ms); report +"
            f"{figures[f'report_bytes_{size}']:,.0f} B JSON; {figures[f'emf_records_{size}']:.0f} EMF records, "
            f"{figures[f'emf_bytes_{size}']:,.0f} B"
        )
    assert FLEET in _emit(compliance([_versioned(10)], ()))  # the fleet series is among the records
    return figures


if __name__ == "__main__":
    print(json.dumps(main()))
