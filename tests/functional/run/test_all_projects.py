"""``targets: "all"`` through the real handler: IAM lists the projects, every enabled region project with GeminiDB is
patched, and no other is touched."""

from __future__ import annotations

import contextlib
import io
import json
import random
from collections.abc import Iterator
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator import Fault, Simulator
from geminidb_local.simulator.fleet import DEMO_AK, DEMO_SK
from geminidb_patcher.entrypoints.cli.main import main
from geminidb_patcher.errors import EXIT_OK, EXIT_USAGE, DiscoveryError, InvalidRunRequestError
from tests.helpers import make_instance

ACCOUNT = "a" * 32
P1, P2, P3, P4 = "1" * 32, "2" * 32, "3" * 32, "4" * 32
SUBMIT = "POST /instances/db-upgrade"
APPLY = {"mode": "apply", "window": "anytime", "max_in_flight": "100%"}


def project_fleet(project: str, region: str, seed: int, **extra: Any) -> dict[str, Any]:
    rng = random.Random(seed)
    return {
        "instances": [make_instance(rng, "cassandra") for _ in range(3)],
        "credentials": {"project_id": project, "region": region},
        **extra,
    }


IAM_PROJECTS = [
    {"id": ACCOUNT, "name": "acme", "is_domain": True},
    {"id": P1, "name": "ap-southeast-1"},
    {"id": P2, "name": "ap-southeast-3"},
    {"id": P3, "name": "ap-southeast-2", "enabled": False},  # disabled: never touched
    {"id": P4, "name": "xx-nowhere-9"},  # no GeminiDB endpoint there
    {"id": "5" * 32, "name": "MOS"},  # not a region project
]


@pytest.fixture
def account() -> Iterator[dict[str, Simulator]]:
    """Three projects of one account, each behind its own endpoint; IAM (in the first) lists two of them enabled."""
    with (
        Simulator(project_fleet(P1, "ap-southeast-1", 1, iam_projects=IAM_PROJECTS)) as first,
        Simulator(project_fleet(P2, "ap-southeast-3", 2)) as second,
        Simulator(project_fleet(P3, "ap-southeast-2", 3)) as disabled,
    ):
        yield {"first": first, "second": second, "disabled": disabled}


def environ(account: dict[str, Simulator], **extra: str) -> dict[str, str]:
    """AK/SK, IAM at the first simulator, an endpoint per region; no default target: discovery needs none."""
    endpoints = {"ap-southeast-1": "first", "ap-southeast-3": "second", "ap-southeast-2": "disabled"}
    return {
        "HUAWEICLOUD_SDK_AK": DEMO_AK,
        "HUAWEICLOUD_SDK_SK": DEMO_SK,
        "HUAWEICLOUD_SDK_IAM_ENDPOINT": account["first"].base_url,
        "GEMINIDB_ENDPOINTS": json.dumps({r: account[name].base_url for r, name in endpoints.items()}),
        "WEBHOOK_SECRET": new_webhook_secret(),
        **extra,
    }


def submitted(simulator: Simulator) -> set[str]:
    return {i for e in simulator.exchanges if e.route == SUBMIT for i in e.body["instance_ids"]}


def test_all_patches_every_enabled_region_project_iam_lists_and_none_other(account: dict[str, Simulator]) -> None:
    handler = make_handler(environ(account))

    report = handler({**APPLY, "targets": "all"}, LocalContext())

    assert [(t["region"], t["project_id"]) for t in report["targets"]] == [
        ("ap-southeast-1", P1),
        ("ap-southeast-3", P2),
    ]
    for name in ("first", "second"):
        assert submitted(account[name]) == {item["id"] for item in account[name].fleet.instances}
    assert account["disabled"].exchanges == []  # listed but disabled: not one request
    assert report["counts"]["submitted"] == 6 and report["errors"] == []
    (listing,) = [e for e in account["first"].exchanges if e.path == "/v3/auth/projects"]
    assert "x-project-id" not in listing.header_names  # a whole-account call, signed without a project


def test_the_deployment_default_discovers_and_the_target_limit_names_how_many_were_found(
    account: dict[str, Simulator],
) -> None:
    by_default = make_handler(environ(account, PATCHER_TARGETS="all"))
    plan = by_default({"mode": "plan", "window": "anytime"}, LocalContext())
    assert {t["project_id"] for t in plan["targets"]} == {P1, P2}

    limited = make_handler(environ(account, MAX_TARGETS="1"))
    with pytest.raises(InvalidRunRequestError, match="'all' found 2 projects with GeminiDB; at most 1"):
        limited({**APPLY, "targets": "all"}, LocalContext())
    assert not submitted(account["first"]) and not submitted(account["second"])


def test_the_cli_reads_compliance_across_every_project(account: dict[str, Simulator]) -> None:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["compliance", "--all-projects", "--output", "json"], environ(account), out=out, err=err)
    assert code == EXIT_OK, err.getvalue()
    text = out.getvalue()
    assert P1 in text and P2 in text and P3 not in text
    assert all(not submitted(simulator) for simulator in account.values())
    with contextlib.redirect_stdout(io.StringIO()):
        code = main(["plan", "--all-projects", "--target", f"ap-southeast-1/{P1}"], environ(account), out=out, err=err)
    assert code == EXIT_USAGE and "--target or --all-projects" in err.getvalue()


def test_an_iam_user_lists_with_a_token_for_its_whole_account() -> None:
    user = {"iam_user": "ops-discovery", "iam_password": "discovery-pw-1", "iam_domain": "acme-discovery"}
    with Simulator(project_fleet(P1, "ap-southeast-1", 4, credentials={"project_id": P1, **user})) as simulator:
        environ = {
            "HUAWEICLOUD_IAM_USER": user["iam_user"],
            "HUAWEICLOUD_IAM_PASSWORD": user["iam_password"],
            "HUAWEICLOUD_IAM_DOMAIN": user["iam_domain"],
            "HUAWEICLOUD_SDK_IAM_ENDPOINT": simulator.base_url,
            "GEMINIDB_ENDPOINT": simulator.base_url,
            "WEBHOOK_SECRET": new_webhook_secret(),
        }
        plan = make_handler(environ)({**APPLY, "mode": "plan", "targets": "all"}, LocalContext())
        assert [t["project_id"] for t in plan["targets"]] == [P1] and plan["counts"]["planned"] == 3
        scopes = [e.body["auth"]["scope"] for e in simulator.exchanges if e.path == "/v3/auth/tokens"]
        assert scopes == [{"domain": {"name": "acme-discovery"}}, {"project": {"id": P1}}]


def test_an_iam_failure_ends_the_run_with_a_scrubbed_message_and_reads_nothing(account: dict[str, Simulator]) -> None:
    echoed = f"internal error for key {DEMO_AK} / {DEMO_SK}"
    account["first"].state.faults.add(
        Fault("GET /auth/projects", "status", status=400, times=5, body={"error_code": "IAM.0001", "error_msg": echoed})
    )
    handler = make_handler(environ(account))

    with pytest.raises(DiscoveryError) as failed:
        handler({**APPLY, "targets": "all"}, LocalContext())

    assert "listing the account's projects (IAM) failed" in str(failed.value)
    assert DEMO_SK not in str(failed.value) and failed.value.error_code == "IAM.0001"
    assert all(not submitted(simulator) for simulator in account.values())
    assert account["second"].exchanges == [] and account["disabled"].exchanges == []
