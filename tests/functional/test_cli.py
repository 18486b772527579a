"""The operator CLI against the simulator: tables, --output json, confirmation, progress and exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.simulator import Simulator
from geminidb_patcher.cli import EXIT_ABORTED, EXIT_CONFIG, EXIT_OK, EXIT_PLAN_CHANGED, EXIT_PROBLEMS, EXIT_USAGE, main
from tests.functional.conftest import fleet_document


@pytest.fixture
def sim() -> Iterator[Simulator]:
    document = fleet_document(6)
    document["reject_upgrades"] = {}
    with Simulator(document) as running:
        yield running


def environ_for(sim: Simulator) -> dict[str, str]:
    environ = simulator_environment(sim, webhook_secret=new_webhook_secret())
    environ.pop("NOTIFY_WEBHOOK_URL")
    return environ


def cli(sim: Simulator, *argv: str, answer: bool | None = None) -> tuple[int, str, str, list[str]]:
    out, err, prompts = io.StringIO(), io.StringIO(), []

    def confirm(prompt: str) -> bool:
        prompts.append(prompt)
        assert answer is not None, "unexpected confirmation prompt"
        return answer

    with contextlib.redirect_stdout(io.StringIO()):  # the function's own JSON logs
        code = main(list(argv), environ_for(sim), out=out, err=err, confirm=confirm)
    return code, out.getvalue(), err.getvalue(), prompts


def upgrade_calls(sim: Simulator) -> list[Any]:
    return [e for e in sim.exchanges if e.route == "POST /instances/db-upgrade"]


def test_plan_prints_a_table_with_version_window_and_outcome(sim: Simulator) -> None:
    code, out, _, _ = cli(sim, "plan", "--max-in-flight", "100%")
    header = out.splitlines()[0].split()
    assert code == EXIT_OK and header[:5] == ["INSTANCE", "ENGINE", "VERSION", "WINDOW", "OUTCOME"]
    assert out.count(" planned ") == 6 and "3.11.5.4" in out and "02:00-06:00" in out
    assert not upgrade_calls(sim)


def test_plan_json_is_the_run_report(sim: Simulator) -> None:
    code, out, _, _ = cli(sim, "plan", "--engine", "cassandra", "--output", "json")
    report = json.loads(out)
    assert code == EXIT_OK and report["trigger"] == "cli" and report["mode"] == "plan"
    assert {o["engine"] for o in report["outcomes"]} == {"cassandra"}


def test_apply_asks_and_a_no_submits_nothing(sim: Simulator) -> None:
    code, _, err, prompts = cli(sim, "apply", "--max-in-flight", "100%", answer=False)
    assert code == EXIT_ABORTED and "aborted" in err
    assert prompts and prompts[0].startswith("Submit 6 instance(s) (plan p-")
    assert not upgrade_calls(sim)


def test_apply_after_yes_submits_the_plan_it_showed_and_reports_progress(sim: Simulator) -> None:
    code, out, err, _ = cli(sim, "apply", "--max-in-flight", "100%", answer=True)
    assert code == EXIT_OK
    assert len(upgrade_calls(sim)) == 3  # one batch per engine
    assert err.count("batch ") == 3 and "submitted" in err
    assert "submitted 6; plan p-" in out


def test_apply_yes_with_json_output_and_a_stale_expected_plan(sim: Simulator) -> None:
    code, _, err, _ = cli(sim, "apply", "--yes", "--expected-plan-id", "p-0000000000000000", "--output", "json")
    assert code == EXIT_PLAN_CHANGED and "nothing was submitted" in err and not upgrade_calls(sim)
    code, out, _, prompts = cli(sim, "apply", "--yes", "--output", "json", "--max-in-flight", "2")
    assert code == EXIT_OK and not prompts
    assert json.loads(out)["counts"]["submitted"] == 2


def test_rejections_exit_1_and_status_lists_jobs(sim: Simulator) -> None:
    victim = sim.fleet.instances[0]["id"]
    sim.fleet.reject_upgrades[victim] = "DBS.200018"
    code, _, _, _ = cli(sim, "apply", "--yes", "--max-in-flight", "100%", "--max-errors", "5")
    assert code == EXIT_PROBLEMS
    code, out, _, _ = cli(sim, "status", "--output", "json")
    jobs = json.loads(out)["jobs"]
    assert code == EXIT_OK and len(jobs) == 5 and {j["status"] for j in jobs} == {"Running"}
    code, out, _, _ = cli(sim, "status")
    assert "running 5, completed 0, failed 0" in out


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["plan", "--instance-id", "not-an-id"], EXIT_USAGE),
        (["plan", "--window", "sometimes"], EXIT_USAGE),
        (["plan", "--request", "/nonexistent/request.json"], EXIT_USAGE),
        (["plan", "--target", "eu-west-101"], EXIT_USAGE),
    ],
)
def test_bad_input_exits_2_and_calls_nothing(sim: Simulator, argv: list[str], expected: int) -> None:
    code, _, err, _ = cli(sim, *argv)
    assert code == expected and "invalid request" in err
    assert not sim.exchanges


def test_missing_credentials_exit_5(sim: Simulator) -> None:
    environ = {k: v for k, v in environ_for(sim).items() if "SDK_AK" not in k and "SDK_SK" not in k}
    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan"], environ, out=io.StringIO(), err=err)
    assert code == EXIT_CONFIG and "no Huawei credentials" in err.getvalue()


def test_the_installed_command_reads_a_request_from_stdin(sim: Simulator) -> None:
    request = json.dumps({"selector": {"engines": ["redis"]}, "max_in_flight": "100%"})
    result = subprocess.run(
        [sys.executable, "-m", "geminidb_patcher.cli", "plan", "--request", "-", "--output", "json"],
        input=request,
        capture_output=True,
        text=True,
        env={**os.environ, **environ_for(sim)},
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    report = json.loads(result.stdout[result.stdout.index('{\n  "run_id"') :])
    assert {o["engine"] for o in report["outcomes"]} == {"redis"}
