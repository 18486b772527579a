"""Both handlers of a host twin of the artifact, run by the AWS Lambda runtime interface client, as Lambda runs them.

The twin holds what ``sam build`` ships (the package and its pinned wheels, with bytecode compiled by the
interpreter that runs it), read-only, for this machine's platform. ``awslambdaric`` (dev-only, installed beside it,
never into it) polls the project's Runtime API emulator, which hands it every event of ``events/``; the
function talks to the simulator. Each answer is checked against the README, every log line is JSON, and no module
of the twin is compiled at run time.
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.runtime_api import RuntimeApi
from geminidb_local.simulator import Simulator, demo_fleet
from geminidb_patcher.contract.signatures import sign_headers

pytestmark = pytest.mark.artifact

ROOT = Path(__file__).resolve().parents[2]
EVENTS = ROOT / "events"
RIC_VERSION = "4.2.2"
SECRET = new_webhook_secret()
ANSWER_SECONDS = 60
BOOTSTRAP = r"""
import importlib._bootstrap_external as external, runpy, sys
twin, ric, compiled_log, handler = sys.argv[1:5]
sys.path[:0] = [twin, ric]
original = external.SourceLoader.source_to_code
def recording(self, data, path, *args, **kwargs):
    if str(path).startswith(twin):
        with open(compiled_log, "a") as log:
            log.write(f"{path}\n")
    return original(self, data, path, *args, **kwargs)
external.SourceLoader.source_to_code = recording
sys.argv = ["awslambdaric", handler]
runpy.run_module("awslambdaric", run_name="__main__", alter_sys=True)
"""


def _interpreter() -> str:
    return os.environ.get("ARTIFACT_PY313") or sys.executable


def _uv() -> str | None:
    return os.environ.get("ARTIFACT_UV") or shutil.which("uv")


@pytest.fixture(scope="module")
def twin(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The host twin (read-only, with bytecode) and a separate directory holding the runtime client."""
    uv = _uv()
    if uv is None:
        pytest.skip("no uv to build the twin with (python3 dev.py test provides one)")
    root = tmp_path_factory.mktemp("runtime")
    directory, ric = root / "twin", root / "ric"
    interpreter = _interpreter()
    install = [uv, "pip", "install", "--quiet", "--no-deps", "--only-binary", ":all:", "--python", interpreter]
    subprocess.run([*install, "--target", str(directory), "-r", str(ROOT / "src" / "requirements.txt")], check=True)
    shutil.copytree(ROOT / "src" / "geminidb_patcher", directory / "geminidb_patcher")
    for cache in list(directory.rglob("__pycache__")):
        shutil.rmtree(cache)
    compileall = [interpreter, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash"]
    subprocess.run([*compileall, str(directory)], check=True, stdout=subprocess.DEVNULL)
    install_ric = [uv, "pip", "install", "--quiet", "--only-binary", ":all:", "--python", interpreter]
    subprocess.run([*install_ric, "--target", str(ric), f"awslambdaric=={RIC_VERSION}"], check=True)
    for path in directory.rglob("*"):
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    yield directory, ric
    for path in directory.rglob("*"):
        path.chmod(path.stat().st_mode | stat.S_IWUSR)


def _resigned(event: dict[str, Any]) -> dict[str, Any]:
    """The HTTP API event with its body signed now (the files carry a placeholder signature)."""
    body = str(event.get("body") or "").encode()
    headers = {k: v for k, v in event["headers"].items() if not k.startswith("webhook-")}
    signed = sign_headers(SECRET, f"msg_{time.time_ns()}", int(time.time()), body)
    return {**event, "headers": {**headers, **signed}}


def _run(
    twin: tuple[Path, Path], handler: str, events: list[dict[str, Any]], tmp_path: Path
) -> tuple[list[Any], list[str], list[str]]:
    """Start the runtime client on ``handler``, hand it ``events``, and collect the answers, log lines, compiles."""
    directory, ric = twin
    compiled_log = tmp_path / f"compiled-{handler.rsplit('.', 1)[-1]}.txt"
    with Simulator(demo_fleet()) as simulator, RuntimeApi() as runtime:
        environ = simulator_environment(simulator, webhook_secret=SECRET)
        environ |= {
            "AWS_LAMBDA_RUNTIME_API": runtime.address,
            "AWS_LAMBDA_FUNCTION_NAME": "geminidb-patcher",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_FORMAT": "JSON",
            "AWS_REGION": "ap-southeast-1",
            "LAMBDA_TASK_ROOT": str(directory),
            "_HANDLER": handler,  # as Lambda sets it: the handler's path is prepared at import (init)
            "PATH": os.environ.get("PATH", ""),
        }
        command = [_interpreter(), "-I", "-B", "-c", BOOTSTRAP, str(directory), str(ric), str(compiled_log), handler]
        output = tmp_path / f"output-{handler.rsplit('.', 1)[-1]}.txt"
        with output.open("w") as sink:  # a file, not a pipe: a full pipe would stall the function
            process = subprocess.Popen(command, env=environ, cwd=directory, stdout=sink, stderr=subprocess.STDOUT)
            try:
                ids = [runtime.invoke(event) for event in events]
                answers = [runtime.answer(request_id, ANSWER_SECONDS) for request_id in ids]
                assert runtime.state.init_error is None, runtime.state.init_error
            finally:
                process.terminate()
                process.wait(timeout=30)
    lines = [line for line in output.read_text().splitlines() if line.strip()]
    compiled = compiled_log.read_text().splitlines() if compiled_log.exists() else []
    return answers, lines, compiled


def _load(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((EVENTS / name).read_text())
    return loaded


def test_the_scheduled_handler_answers_every_scheduled_and_direct_event_as_documented(
    twin: tuple[Path, Path], tmp_path: Path
) -> None:
    valid = ["schedule-plan.json", "schedule-eventbridge-rule.json", "schedule-eventbridge-scheduler.json",
             "schedule-rollout.json", "direct-apply-selector.json", "schedule-apply.json"]  # fmt: skip
    invalid = sorted(p.name for p in (EVENTS / "invalid").glob("*.json") if not p.name.startswith("webhook-"))
    events = [_load(name) for name in valid] + [_load(f"invalid/{name}") for name in invalid]
    answers, lines, compiled = _run(twin, "geminidb_patcher.entrypoints.handler.scheduled_handler", events, tmp_path)
    for name, answer in zip(valid, answers[: len(valid)], strict=True):
        assert answer is not None and answer.ok, name
        expected = "direct" if name.startswith("direct") else "schedule"
        assert answer.body["trigger"] == expected and answer.body["counts"], name
        assert sum(answer.body["counts"].values()) == len(answer.body["outcomes"]), name
    for name, answer in zip(invalid, answers[len(valid) :], strict=True):
        assert answer is not None and not answer.ok, name
        assert (
            answer.body["errorType"] == "InvalidRunRequestError" and "invalid RunRequest" in answer.body["errorMessage"]
        )
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == [], not_json[:5]
    assert compiled == [], compiled[:5]


def test_the_webhook_handler_answers_signed_unsigned_and_public_requests_as_documented(
    twin: tuple[Path, Path], tmp_path: Path
) -> None:
    cases = [
        (_resigned(_load("webhook-run.json")), 200),
        (_load("webhook-openapi.json"), 200),
        (_resigned(_load("invalid/webhook-bad-body.json")), 422),
        (_load("invalid/webhook-unsigned.json"), 401),
    ]
    answers, lines, compiled = _run(
        twin, "geminidb_patcher.entrypoints.handler.webhook_handler", [event for event, _ in cases], tmp_path
    )
    for (_, status), answer in zip(cases, answers, strict=True):
        assert answer is not None and answer.ok and answer.body["statusCode"] == status, answer
    report = json.loads(answers[0].body["body"])  # type: ignore[union-attr]
    assert report["trigger"] == "webhook" and report["mode"] == "plan"
    not_json = [line for line in lines if not line.startswith("{")]
    assert not_json == [], not_json[:5]
    assert compiled == [], compiled[:5]
