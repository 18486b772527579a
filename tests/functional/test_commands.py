"""The standalone simulator contract and the demo, as processes."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]


def test_simulator_command_prints_address_first_and_serves_fleet_file(tmp_path: Path) -> None:
    # GIVEN a fleet file with only ids and one credential override
    fleet = {
        "instances": [{"id": "a" * 32 + "in06"}, {"id": "b" * 32 + "in06", "datastore": {"type": "redis"}}],
        "credentials": {"ak": "TESTAK", "sk": "test-sk", "project_id": "1" * 32},
    }
    path = tmp_path / "fleet.json"
    path.write_text(json.dumps(fleet))
    process = subprocess.Popen(
        [sys.executable, "-m", "geminidb_local.simulator", "--port", "0", "--fleet", str(path)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline().strip()
        # THEN the first line is the address, and the defaulted fleet is served
        assert first.startswith("listening on http://127.0.0.1:")
        state = requests.get(first.removeprefix("listening on ") + "/_sim/state", timeout=5).json()
        assert [i["datastore"]["type"] for i in state["instances"]] == ["cassandra", "redis"]
        assert all(i["status"] == "normal" and i["maintenance_window"] for i in state["instances"])
    finally:
        process.terminate()
        process.wait(10)


def test_demo_accounts_for_every_instance(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "geminidb_local", "demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "all found as UpgradeDbVersion jobs: True" in result.stdout
    assert (tmp_path / "local-out" / "demo-logs.jsonl").stat().st_size > 0
    messages = json.loads((tmp_path / "local-out" / "notifications.json").read_text())
    # every channel hears the five runs that notify: two plans with an approval link (changes: they wait for a
    # person), the apply, the plan that saw jobs end, and the approved apply; the approval page's own plan is silent
    assert Counter(m["kind"] for m in messages) == dict.fromkeys(
        ("webhook", "slack", "teams", "feishu", "dingtalk", "wecom", "smn"), 5
    )
    assert all(200 <= m["status"] < 300 for m in messages)
    # AND the compliance the runs emitted moves once the applied upgrades have ended
    assert (
        "Fleet ComplianceRatio per run, from those EMF records: 4.88% current (39 behind) → 4.88% current (39 "
        "behind) → 63.41% current (15 behind)" in result.stdout
    )
    # AND step 4 approves a plan from its chat message: the page sends nothing, Apply sends it, a second press not
    step4 = result.stdout[result.stdout.index("4. A plan for review") :]
    assert 'GET the link → HTTP 200, "Review and apply: 3 instance(s) to patch"; batch upgrade calls: 0.' in step4
    assert "1 held for want of a recent backup" in step4
    assert 'Press "Apply this plan" → HTTP 200, "Plan applied"' in step4
    assert 'Press it again → HTTP 409, "The plan has changed"; batch upgrade calls: 0.' in step4
    assert '"kind": "approval_link"' in step4
    # AND step 1b: the fleet's past upgrades hold a Cassandra instance a Huawei-figure window would fit, not Influx
    step1b = result.stdout[result.stdout.index("1b. Durations learned") :]
    assert "orders-cassandra-00: skipped (window_too_short)" in step1b
    assert "up to 38 min (observed p90 of 3 upgrades of 3-node Cassandra instances, +20%)" in step1b
    assert "metrics-influx-00: planned, estimate 16 min" in step1b
    # AND step 5 reads both GeminiDB projects IAM lists for the account, and no other
    assert "IAM lists 5 projects; read: ap-southeast-1/01234567… (41 instances), ap-southeast-3/5c0d2e7a… (4 " in (
        result.stdout
    )
    compliance_lines = [line for line in result.stdout.splitlines() if line.startswith("  → compliance: ")]
    assert len(compliance_lines) == 3 and compliance_lines[0] != compliance_lines[-1]
