"""Upstream text is untrusted: an answer that echoes a credential never puts it in an answer, a channel or the CLI."""

from __future__ import annotations

import contextlib
import io
import json
import random
from typing import Any

import pytest

from geminidb_local.environment import channel_environment, new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, make_handler, signed_run_event
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.entrypoints.cli.main import main
from tests.helpers import make_instance

SECRET = new_webhook_secret()
IAM = {"iam_user": "patcher", "iam_password": "s3cret-Echoed-Pw!", "iam_domain": "ops-domain"}


def fleet() -> dict[str, Any]:
    rng = random.Random(77)
    return {"instances": [make_instance(rng) for _ in range(3)], "credentials": IAM}


def iam_environment(simulator: Simulator) -> dict[str, str]:
    environ = simulator_environment(simulator, webhook_secret=SECRET)
    environ = {k: v for k, v in environ.items() if k not in ("HUAWEICLOUD_SDK_AK", "HUAWEICLOUD_SDK_SK")}
    environ.pop("NOTIFY_WEBHOOK_URL")
    environ |= channel_environment(simulator)
    return environ | {
        "HUAWEICLOUD_IAM_USER": IAM["iam_user"],
        "HUAWEICLOUD_IAM_PASSWORD": IAM["iam_password"],
        "HUAWEICLOUD_IAM_DOMAIN": IAM["iam_domain"],
    }


def cli(environ: dict[str, str], *argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(list(argv), environ, out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def visible(simulator: Simulator, *texts: str) -> str:
    """Everything a person or a system downstream sees: the given texts and every channel's accepted message."""
    return "\n".join([*texts, json.dumps(simulator.inbox)])


@pytest.fixture
def echoing_iam() -> Any:
    with Simulator(fleet()) as simulator:
        simulator.state.faults.add(Fault("POST /auth/tokens", "echo", status=400, times=1000))
        yield simulator


def test_an_iam_answer_echoing_the_password_reaches_no_answer_channel_or_cli(echoing_iam: Simulator) -> None:
    environ = iam_environment(echoing_iam)
    handler = make_handler(environ)
    with contextlib.redirect_stdout(io.StringIO()):
        scheduled = handler({"mode": "plan", "window": "anytime"}, LocalContext())
        webhook = handler(signed_run_event(SECRET, b'{"mode": "plan"}'), LocalContext())
    table = cli(environ, "plan")
    as_json = cli(environ, "plan", "--output", "json")
    assert scheduled["errors"] and "bad request" in scheduled["errors"][0]["error_message"]  # the echo is reported
    seen = visible(echoing_iam, json.dumps(scheduled), json.dumps(webhook), *table[1:], *as_json[1:])
    assert IAM["iam_password"] not in seen
    assert json.dumps(IAM["iam_password"])[1:-1] not in seen
    assert len({m["kind"] for m in echoing_iam.inbox}) >= 6  # every channel type heard, none got the password


def test_a_401_echoing_the_token_reaches_neither_status_nor_compliance_output() -> None:
    with Simulator(fleet()) as simulator:
        environ = iam_environment(simulator)
        simulator.state.faults.add(Fault("GET /instances", "echo", status=401, times=1000))
        simulator.state.faults.add(Fault("GET /jobs", "echo", status=401, times=1000))
        status = cli(environ, "status")
        compliance = cli(environ, "compliance", "--output", "json")
        issued = list(simulator.state.gateway.tokens)
        assert issued, "tokens were issued and echoed"
        for token in issued:
            assert token not in "".join([*status[1:], *compliance[1:]])
        assert "bad request" in compliance[1] or "bad request" in compliance[2]
