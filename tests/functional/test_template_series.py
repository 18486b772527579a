"""Every alarm and problem widget of template.yaml watches a series that real runs of the function emit."""

from __future__ import annotations

import contextlib
import io
import json
import re
from pathlib import Path

from tools.cfn_yaml import load_template

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, http_api_event, make_handler, signed_run_event
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.telemetry import NAMESPACE, SERVICE
from tests.helpers import dashboard_widgets, emitted_series, fleet_document

TEMPLATE = load_template(Path(__file__).resolve().parents[2] / "template.yaml")


def _run_metrics() -> set[tuple[str, str, frozenset[tuple[str, str]]]]:
    """Every EMF series a few real runs emit: a plan with a failing target and a failing channel, an apply that
    is refused, and webhook calls that are unsigned or meet a malformed configured secret."""
    out = io.StringIO()
    secret = new_webhook_secret()
    with Simulator(fleet_document(3)) as simulator, contextlib.redirect_stdout(out):
        environ = simulator_environment(simulator, webhook_secret=f"{secret} whsec_not*base64")
        environ["NOTIFY_WEBHOOK_URL"] = "http://127.0.0.1:9/unreachable"
        handler = make_handler(environ)
        other = {"region": "ap-southeast-1", "project_id": "f" * 32}
        own = {"region": simulator.fleet.credentials.region, "project_id": simulator.fleet.credentials.project_id}
        handler({"mode": "plan", "targets": [own, other]}, LocalContext())
        simulator.state.faults.add(Fault("POST /instances/db-upgrade", "status", status=500, times=10))
        handler({"mode": "apply", "window": "anytime", "max_in_flight": "100%"}, LocalContext())
        handler(http_api_event("POST", "/runs", b"{}", {"content-type": "application/json"}), LocalContext())
        handler(signed_run_event(secret, b'{"mode": "plan"}'), LocalContext())
        pinned = {"mode": "apply", "expected_plan_id": "p-0000000000000000"}
        handler(signed_run_event(secret, json.dumps(pinned).encode()), LocalContext())  # 409: the plan changed
    records = [json.loads(line) for line in out.getvalue().splitlines() if line.startswith('{"_aws"')]
    return emitted_series(records)


def test_every_alarm_and_problem_widget_watches_a_series_the_function_emits() -> None:
    emitted = _run_metrics()
    for name, resource in TEMPLATE["Resources"].items():
        properties = resource["Properties"]
        if resource["Type"] != "AWS::CloudWatch::Alarm" or properties["Namespace"] != NAMESPACE:
            continue
        if name == "SustainedNonComplianceAlarm":
            continue  # its engine is a parameter: tests/unit/test_template.py checks it per engine
        dimensions = frozenset((d["Name"], d["Value"]) for d in properties["Dimensions"])
        assert (NAMESPACE, properties["MetricName"], dimensions) in emitted, name
    (problems,) = [w for w in dashboard_widgets(TEMPLATE) if w["properties"].get("title") == "Problems"]
    for line in problems["properties"]["metrics"]:
        if isinstance(line[0], dict):  # a SEARCH: its schema must be the dimensions the metric is emitted with
            schema = re.search(r"\{([^}]*)\} MetricName=\"(\w+)\"", line[0]["expression"])
            assert schema is not None
            namespace, *keys = schema.group(1).split(",")
            assert any(
                (ns, metric) == (namespace, schema.group(2)) and {k for k, _ in dims} == set(keys)
                for ns, metric, dims in emitted
            ), line
        else:
            assert (NAMESPACE, line[1], frozenset({("service", SERVICE)})) in emitted, line
