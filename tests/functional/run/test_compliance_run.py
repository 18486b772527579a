"""A run through the real handler reports compliance and emits it as EMF metrics; an apply moves it."""

from __future__ import annotations

import contextlib
import io
import json
import random
from datetime import UTC, datetime, timedelta

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Simulator
from tests.helpers import handler_on, make_instance

SECRET = new_webhook_secret()


def _run(simulator: Simulator, mode: str) -> tuple[dict[str, object], dict[tuple[str, str], float]]:
    handler = handler_on(simulator, SECRET)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        report = handler({"mode": mode, "window": "anytime", "max_in_flight": "100%", "notify": False}, LocalContext())
    metrics = {}
    for line in out.getvalue().splitlines():
        record = json.loads(line)
        for definition in record.get("_aws", {}).get("CloudWatchMetrics", []):
            for metric in definition["Metrics"]:
                series = record.get("engine") or record.get("target")
                if series and metric["Name"].startswith(("Compliance", "InstancesBehind", "InstancesCur")):
                    value = record[metric["Name"]]
                    metrics[(metric["Name"], series)] = value[0] if isinstance(value, list) else value
    return report, metrics


def test_compliance_block_and_metrics_before_and_after_an_apply() -> None:
    rng = random.Random(1515)
    instances = [make_instance(rng, "cassandra") for _ in range(4)] + [make_instance(rng, "redis") for _ in range(2)]
    instances[0]["datastore"].update(patch_available=False, whole_version="3.11.5.5")  # what a patch installs
    with Simulator({"instances": instances}) as simulator:
        before, before_metrics = _run(simulator, "plan")
        _run(simulator, "apply")
        simulator.state.clock.advance(6 * 3600)
        after, after_metrics = _run(simulator, "plan")

    (cassandra,) = [e for e in before["compliance"] if e["engine"] == "cassandra"]  # type: ignore[attr-defined]
    assert (cassandra["instances"], cassandra["current"], cassandra["behind"]) == (4, 1, 3)
    assert before_metrics[("ComplianceRatio", "cassandra")] == 25.0
    assert before_metrics[("InstancesBehind", "all")] == 5
    assert after_metrics[("ComplianceRatio", "all")] == 100.0
    assert after_metrics[("InstancesBehind", "all")] == 0
    target = f"{simulator.fleet.credentials.region}/{simulator.fleet.credentials.project_id}"
    assert (before_metrics[("ComplianceRatio", target)], after_metrics[("ComplianceRatio", target)]) == (16.67, 100.0)
    assert {e["engine"] for e in after["compliance"]} == {"cassandra", "redis"}  # type: ignore[attr-defined]


def test_the_report_says_when_instances_held_for_their_windows_will_go() -> None:
    rng = random.Random(1516)
    opens = (datetime.now(UTC) + timedelta(hours=3)).replace(minute=0, second=0, microsecond=0)
    window = f"{opens:%H}:00-{(opens + timedelta(hours=2)):%H}:00"
    instances = [make_instance(rng, "cassandra", maintenance_window=window) for _ in range(3)]
    instances[0]["datastore"]["patch_available"] = False  # current: nothing to wait for
    with Simulator({"instances": instances}) as simulator:
        handler = handler_on(simulator, SECRET)
        with contextlib.redirect_stdout(io.StringIO()):
            report = handler({"mode": "plan", "window": "instance", "notify": False}, LocalContext())

    (step,) = report["next_steps"]
    assert (step["waiting_for"], step["instances"], step["within_a_day"]) == ("window", 2, 2)
    assert datetime.fromisoformat(step["earliest_at"]) == opens
