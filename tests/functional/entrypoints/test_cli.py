"""The operator CLI against the simulator: tables, --output json, confirmation, progress and exit codes."""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.gateway_server import LocalGateway
from geminidb_local.lambda_shim import make_handler
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.contract.approval import unseal
from geminidb_patcher.contract.secret_values import SecretValues
from geminidb_patcher.entrypoints.cli.main import main
from geminidb_patcher.errors import (
    EXIT_ABORTED,
    EXIT_CONFIG,
    EXIT_OK,
    EXIT_PLAN_CHANGED,
    EXIT_PROBLEMS,
    EXIT_USAGE,
)
from tests.helpers import fleet_document, make_instance


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
    assert code == EXIT_OK and header[:6] == ["INSTANCE", "ENGINE", "VERSION", "MAINT-WINDOW", "ESTIMATE", "OUTCOME"]
    assert out.count(" planned ") == 6 and "3.11.5.4" in out and "02:00-06:00" in out
    assert " 16 min " in out or " 19 min " in out  # Huawei's figure for a 3-node Cassandra or Redis instance
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
        (["plan", "--instance-id", "not/an-id"], EXIT_USAGE),
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
        [sys.executable, "-m", "geminidb_patcher.entrypoints.cli", "plan", "--request", "-", "--output", "json"],
        input=request,
        capture_output=True,
        text=True,
        env={**os.environ, **environ_for(sim)},
        timeout=60,
        check=False,
    )
    assert result.returncode == EXIT_OK, result.stderr
    report = json.loads(result.stdout)  # stdout is the JSON and nothing else
    assert result.stderr == ""  # and no logs unless --verbose
    assert {o["engine"] for o in report["outcomes"]} == {"redis"}


def command(sim: Simulator, *argv: str, stdin: str = "", environ: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "geminidb_patcher.entrypoints.cli", *argv],
        input=stdin,
        capture_output=True,
        text=True,
        env={**os.environ, **(environ if environ is not None else environ_for(sim))},
        timeout=60,
        check=False,
    )


def test_json_output_is_only_json_and_verbose_logs_go_to_stderr(sim: Simulator) -> None:
    quiet = command(sim, "apply", "--yes", "--output", "json", "--max-in-flight", "2")
    assert quiet.returncode == EXIT_OK and json.loads(quiet.stdout)["counts"]["submitted"] == 2
    assert "run_report" not in quiet.stderr
    verbose = command(sim, "--verbose", "status", "--output", "json")
    assert verbose.returncode == EXIT_OK and len(json.loads(verbose.stdout)["jobs"]) == 2
    loud = command(sim, "--verbose", "plan", "--output", "json")
    assert json.loads(loud.stdout)["mode"] == "plan" and '"message":"run_report"' in loud.stderr


def test_apply_json_prints_the_report_even_when_nothing_is_submitted(sim: Simulator) -> None:
    code, out, err, _ = cli(sim, "apply", "--output", "json", "--name", "no-such-instance")
    assert code == EXIT_OK and "nothing to submit" in err
    assert json.loads(out)["counts"]["planned"] == 0


@pytest.mark.parametrize(("interrupt", "message"), [(KeyboardInterrupt, "aborted"), (EOFError, "--yes")])
def test_ctrl_c_or_a_closed_stdin_at_the_prompt_exits_4_without_a_traceback(
    sim: Simulator, interrupt: type[BaseException], message: str
) -> None:
    def confirm(prompt: str) -> bool:
        raise interrupt

    err = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["apply"], environ_for(sim), out=io.StringIO(), err=err, confirm=confirm)
    assert code == EXIT_ABORTED and message in err.getvalue() and not upgrade_calls(sim)


def test_a_request_on_stdin_cannot_also_answer_the_prompt(sim: Simulator) -> None:
    result = command(sim, "apply", "--request", "-", stdin='{"mode": "apply"}')
    assert result.returncode == EXIT_USAGE and "--yes" in result.stderr and not upgrade_calls(sim)
    answered_nothing = command(sim, "apply", stdin="")
    assert answered_nothing.returncode == EXIT_ABORTED and "standard input is closed" in answered_nothing.stderr


def test_version(sim: Simulator) -> None:
    from geminidb_patcher import __version__

    result = command(sim, "--version")
    assert result.returncode == 0 and result.stdout.strip() == f"geminidb-patcher {__version__}"


def test_status_lookback_takes_seconds_and_refuses_negative_durations_before_calling_huawei(sim: Simulator) -> None:
    code, out, _, _ = cli(sim, "status", "--lookback", "5", "--output", "json")
    assert code == EXIT_OK and json.loads(out) == {"jobs": []}
    sim.state.exchanges.clear()
    for lookback in ("-PT1H", "P31D", "soon"):
        code, _, err, _ = cli(sim, "status", f"--lookback={lookback}")
        assert code == EXIT_USAGE and "--lookback" in err
    assert not sim.exchanges


def test_missing_target_and_bad_region_name_the_variables(sim: Simulator) -> None:
    environ = {
        k: v for k, v in environ_for(sim).items() if k not in ("HUAWEICLOUD_REGION", "HUAWEICLOUD_SDK_PROJECT_ID")
    }
    for argv in (["plan"], ["status"]):
        err = io.StringIO()
        code = main(argv, environ, out=io.StringIO(), err=err)
        assert code == EXIT_CONFIG and "HUAWEICLOUD_REGION and HUAWEICLOUD_SDK_PROJECT_ID" in err.getvalue()
        assert "--target" in err.getvalue()
    err = io.StringIO()
    code = main(["plan"], {**environ_for(sim), "HUAWEICLOUD_REGION": "Mars"}, out=io.StringIO(), err=err)
    assert code == EXIT_CONFIG and "HUAWEICLOUD_REGION is not a region ID" in err.getvalue()


def test_the_table_says_which_window_rule_applied_and_when_there_is_no_plan(sim: Simulator) -> None:
    _, out, _, _ = cli(sim, "plan")
    assert "window: anytime (maintenance windows not applied; --window instance respects them)" in out
    _, out, _, _ = cli(sim, "plan", "--window", "instance")
    assert "window: each instance's maintenance window (UTC)" in out
    _, out, _, _ = cli(sim, "plan", "--name", "no-such-instance")
    assert "plan: none (nothing would be submitted)" in out and "plan None" not in out


def test_progress_counts_what_re_reading_the_jobs_found(sim: Simulator) -> None:
    sim.state.faults.add(Fault("POST /instances/db-upgrade", "accept_then_drop"))
    code, _, err, _ = cli(sim, "apply", "--yes", "--engine", "cassandra", "--max-in-flight", "100%")
    assert code == EXIT_OK
    assert "call failed (TransportError); re-reading the jobs found 2 submitted" in err


def test_a_wrong_endpoint_names_the_host(sim: Simulator) -> None:
    environ = {**environ_for(sim), "GEMINIDB_ENDPOINT": "http://127.0.0.1:9"}
    err, out = io.StringIO(), io.StringIO()
    code = main(["plan"], environ, out=out, err=err)
    assert code == EXIT_PROBLEMS and "127.0.0.1:9" in out.getvalue()


def _mixed_fleet() -> dict[str, Any]:
    """Two current Cassandra, two a version behind (one frozen) with a window three hours ahead, one current Redis."""
    rng = random.Random(1517)
    opens = datetime.now(UTC) + timedelta(hours=3)
    later = f"{opens:%H}:00-{(opens + timedelta(hours=2)):%H}:00"

    def one(engine: str, version: str, patch: bool, **fields: Any) -> dict[str, Any]:
        item = make_instance(rng, engine, patch_available=patch, maintenance_window=later, **fields)
        item["datastore"]["whole_version" if engine == "cassandra" else "version"] = version
        return item

    return {
        "instances": [
            one("cassandra", "3.11.5.4", False),
            one("cassandra", "3.11.5.4", False),
            one("cassandra", "3.11.5.3", True),
            one("cassandra", "3.11.5.3", True, status="frozen"),
            one("redis", "6.2", False),  # Huawei fills whole_version for Cassandra only
        ]
    }


def test_compliance_shows_each_engine_its_versions_and_what_happens_next_without_submitting() -> None:
    with Simulator(_mixed_fleet()) as mixed:
        code, out, _, _ = cli(mixed, "compliance")
        json_code, as_json, _, _ = cli(mixed, "compliance", "--output", "json")
        gate_code, _, _, _ = cli(mixed, "compliance", "--fail-below", "90")
        assert not upgrade_calls(mixed)

    lines = out.splitlines()
    assert lines[0].split() == [
        "TARGET", "ENGINE", "INSTANCES", "NO-PATCH-OFFERED", "BEHIND", "NEEDS-OPERATOR", "CURRENT-%", "VERSIONS"
    ]  # fmt: skip
    cassandra = next(line for line in lines if " cassandra " in line).split()
    assert cassandra[1:7] == ["cassandra", "4", "2", "2", "1", "50.0"]
    assert " ".join(cassandra[7:]) == "3.11.5.3 (2), 3.11.5.4 (2)"
    assert "fleet: 3/5 current: no patch offered (60.0%); 1 behind need an operator" in out
    assert code == EXIT_OK and gate_code == EXIT_PROBLEMS
    answer = json.loads(as_json)
    assert json_code == EXIT_OK and answer["fleet"] == {
        "instances": 5, "current": 3, "behind": 2, "behind_not_patchable": 1, "no_patch_offered": 3,
        "older_version": 0, "percent_current": 60.0, "complete": True,
    }  # fmt: skip
    assert {entry["engine"]: entry["versions"] for entry in answer["compliance"]} == {
        "cassandra": {"3.11.5.3": 2, "3.11.5.4": 2},
        "redis": {"6.2": 1},
    }
    assert [(step["waiting_for"], step["instances"]) for step in answer["next_steps"]] == [("window", 1)]
    assert "next: 1 in their windows within 24 h (first " in out


def test_compliance_with_a_target_not_read_gives_no_share_and_fails() -> None:
    with Simulator(_mixed_fleet()) as mixed:
        unread = "ap-southeast-3/" + "f" * 32  # a project the credentials do not own
        code, out, _, _ = cli(mixed, "compliance", "--output", "json", "--target", unread)
        own = f"{mixed.fleet.credentials.region}/{mixed.fleet.credentials.project_id}"
        text_code, text, _, _ = cli(mixed, "compliance", "--target", unread, "--target", own)
    answer = json.loads(out)
    assert answer["fleet"]["percent_current"] is None and answer["fleet"]["complete"] is False
    assert code == EXIT_PROBLEMS and answer["errors"]
    assert "share unknown: a target was not read" in text and text_code == EXIT_PROBLEMS


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "101", "lots"])
def test_fail_below_takes_only_a_percentage(sim: Simulator, value: str) -> None:
    code, _, err, _ = cli(sim, "compliance", "--fail-below", value)
    assert code == EXIT_USAGE and "is not a number from 0 to 100" in err and not sim.exchanges


DEEP = '{"a":' * 100_000 + "1" + "}" * 100_000


def test_deeply_nested_json_in_a_request_or_a_window_is_a_usage_error(sim: Simulator, tmp_path: Path) -> None:
    request = tmp_path / "deep.json"
    request.write_text(DEEP)
    for argv in (["plan", "--request", str(request)], ["plan", "--window", DEEP], ["compliance", "--window", DEEP]):
        code, _, err, _ = cli(sim, *argv)
        assert code == EXIT_USAGE and "nested too deeply" in err, argv
    assert not sim.exchanges


def test_an_endpoint_that_never_answers_ends_within_the_timeout_naming_the_host(sim: Simulator) -> None:
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(64)  # accepts connections, never answers
        host = f"127.0.0.1:{hole.getsockname()[1]}"
        environ = environ_for(sim) | {"GEMINIDB_ENDPOINT": f"http://{host}", "DEADLINE_MARGIN_MS": "1000"}
        for command in ("plan", "compliance", "status"):
            out, err = io.StringIO(), io.StringIO()
            with contextlib.redirect_stdout(io.StringIO()):
                code = main([command, "--timeout", "3"], environ, out=out, err=err)
            assert code == EXIT_PROBLEMS and host in out.getvalue() + err.getvalue(), command


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("GEMINIDB_ENDPOINT", "https://ops:hunter2-pw@gaussdb.example.com", "must not carry a user or password"),
        ("GEMINIDB_ENDPOINT", "https://gaussdb.example.com:99999", "port that is not a number from 0 to 65535"),
        ("HUAWEICLOUD_SDK_SECURITY_TOKEN", "token-line-1\ntoken-line-2", "an HTTP header cannot carry"),
    ],
)
def test_bad_configuration_names_the_variable_and_never_its_value(
    sim: Simulator, variable: str, value: str, message: str
) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan"], environ_for(sim) | {variable: value}, out=out, err=err)
    assert code == EXIT_CONFIG and variable in err.getvalue() and message in err.getvalue()
    assert "hunter2" not in err.getvalue() + out.getvalue() and not sim.exchanges


def test_an_explicit_apply_counts_every_running_upgrade_in_the_project_against_max_in_flight() -> None:
    rng = random.Random(41)
    named, *others = [make_instance(rng, "cassandra") for _ in range(6)]
    start = datetime.now(UTC) - timedelta(minutes=5)
    running = [
        {"instance_id": other["id"], "status": "Running", "start_time": start.strftime("%Y-%m-%dT%H:%M:%S+0000")}
        for other in others
    ]
    with Simulator({"instances": [named, *others], "jobs": running}) as busy:
        code, _, err, _ = cli(busy, "apply", "--instance-id", named["id"], "--yes", "--window", "anytime")
        assert code == EXIT_PROBLEMS and "(1 max_in_flight)" in err
        assert not [e for e in busy.exchanges if e.route == "POST /instances/db-upgrade"]
        args = ("apply", "--instance-id", named["id"], "--yes", "--window", "anytime", "--max-in-flight", "6")
        code, _, err, _ = cli(busy, *args)
        assert code == EXIT_OK, err
        assert [e.body["instance_ids"] for e in busy.exchanges if e.route == "POST /instances/db-upgrade"] == [
            [named["id"]]
        ]


def test_an_explicit_apply_that_can_submit_nothing_it_named_fails_and_says_why() -> None:
    rng = random.Random(42)
    frozen = make_instance(rng, "cassandra", status="frozen")
    with Simulator({"instances": [frozen]}) as sim:
        code, _, err, _ = cli(sim, "apply", "--instance-id", frozen["id"], "--yes", "--window", "anytime")
    assert code == EXIT_PROBLEMS and "none of the named instances can be patched now (1 status_frozen)" in err


def test_send_signs_a_request_and_posts_it_to_the_webhook_as_a_first_deployment_would(tmp_path: Path) -> None:
    with Simulator(fleet_document(3)) as simulator:
        secret = new_webhook_secret()
        environ = simulator_environment(simulator, webhook_secret=secret)
        environ.pop("NOTIFY_WEBHOOK_URL")
        request = tmp_path / "run.json"
        request.write_text(json.dumps({"mode": "plan", "selector": {"engines": ["redis"]}}))
        with contextlib.redirect_stdout(io.StringIO()), LocalGateway(make_handler(environ)) as gateway:
            out, err = io.StringIO(), io.StringIO()
            code = main(["send", f"{gateway.base_url}/runs", "--request", str(request)], environ, out=out, err=err)
            wrong = {**environ, "WEBHOOK_SECRET": new_webhook_secret()}
            refused = main(["send", f"{gateway.base_url}/runs"], wrong, out=io.StringIO(), err=io.StringIO())
    answer = json.loads(out.getvalue())
    assert code == EXIT_OK and answer["trigger"] == "webhook" and answer["counts"]["planned"] == 1
    assert refused == EXIT_PROBLEMS


def test_plan_approval_link_prints_a_link_that_applies_exactly_the_plan_shown(sim: Simulator) -> None:
    approval_secret = new_webhook_secret()
    environ = environ_for(sim) | {"WEBHOOK_API_URL": "https://abc123.execute-api.example.com"}

    def run(*argv: str, **extra: str) -> tuple[int, str, str]:
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()):
            code = main(list(argv), environ | extra, out=out, err=err, confirm=lambda prompt: False)
        return code, out.getvalue(), err.getvalue()

    code, out, err = run("plan", "--approval-link", APPROVAL_SECRET=approval_secret)
    link = out.strip().splitlines()[-1]
    assert code == EXIT_OK and "Review and apply (valid until" in out
    assert link.startswith("https://abc123.execute-api.example.com/approvals/a1.")
    keys = SecretValues(approval_secret=approval_secret).approval_keys()
    grant = unseal(link.rsplit("/", 1)[1], keys, datetime.now(UTC).timestamp())
    plan_id = out.split("; plan ")[1].split(";")[0]
    assert (grant.plan_id, grant.request.mode, grant.request.window) == (plan_id, "apply", "anytime")
    assert upgrade_calls(sim) == []

    code, out, _ = run("plan", "--approval-link", "--output", "json", APPROVAL_SECRET=approval_secret)
    assert code == EXIT_OK and json.loads(out)["approval"]["url"].startswith("https://abc123.execute-api")

    assert (
        json.loads(run("plan", "--output", "json", APPROVAL_SECRET=approval_secret)[1])["approval"].get("url") is None
    )
    code, out, err = run("plan", "--approval-link")  # no APPROVAL_SECRET: the plan, and why there is no link
    assert code == EXIT_PROBLEMS and "no approval link: APPROVAL_SECRET is not set" in err
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan", "--approval-link"], environ_for(sim), out=out, err=err, confirm=lambda prompt: False)
    assert code == EXIT_PROBLEMS and "set WEBHOOK_API_URL" in err.getvalue() and out.getvalue() == ""


def test_backup_flags_hold_instances_without_a_recent_backup(sim: Simulator) -> None:
    stale = sim.fleet.instances[0]["id"]
    sim.state.backend.backups[:] = [b for b in sim.state.backend.backups if b["instance_id"] != stale]

    code, out, _, _ = cli(sim, "plan", "--window", "anytime", "--backup-within", "PT24H", "--output", "json")
    reasons = {o["instance_id"]: o.get("reason") for o in json.loads(out)["outcomes"]}
    assert code == EXIT_OK and reasons[stale] == "no_recent_backup"

    code, _, err, _ = cli(sim, "plan", "--create-backup")
    assert code == EXIT_USAGE and "--create-backup needs --backup-within" in err
    code, _, err, _ = cli(sim, "plan", "--backup-within", "PT10M")
    assert code == EXIT_USAGE and "between 1 hour and 30 days" in err
