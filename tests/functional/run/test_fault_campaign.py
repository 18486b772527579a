"""A seeded fault campaign: hundreds of random fault schedules over random fleets, each run checked for invariants."""

from __future__ import annotations

import contextlib
import io
import random
from collections import Counter
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.config.secrets import EnvironmentSecrets
from geminidb_patcher.config.settings import load_settings
from geminidb_patcher.config.wiring import Wiring
from tests.helpers import make_instance

pytestmark = pytest.mark.slow

SCENARIOS = 500
SEED = 20261127
IAM = {"iam_user": "patcher", "iam_password": "campaign-password-1", "iam_domain": "ops-domain"}
READ_ROUTES = ["GET /instances", "GET /jobs", "GET /scheduled-jobs"]
UPGRADE = "POST /instances/db-upgrade"
READ_TIMEOUT = 0.5
SLOW_ANSWER = 0.8


def random_fault(rng: random.Random, token_auth: bool) -> Fault:
    """One fault: throttling with and without Retry-After, 5xx bursts, resets, lost answers, bad JSON, ..."""
    if rng.random() < 0.01:  # the client times out, then the server accepts the batch anyway
        return Fault(UPGRADE, "delay", delay=SLOW_ANSWER)
    kind = rng.choice(
        ["429", "429-after", "5xx", "drop", "accept_then_drop", "malformed", "truncated", "new_instance"]
        + (["expire_tokens"] if token_auth else [])
    )
    route = rng.choice([*READ_ROUTES, UPGRADE, UPGRADE])
    times = rng.randint(1, 3)
    if kind == "429":
        return Fault(
            route, "status", status=429, body={"error_code": "APIG.0308", "error_msg": "Too many"}, times=times
        )
    if kind == "429-after":
        return Fault(route, "status", status=429, headers={"Retry-After": str(rng.randint(1, 40))}, times=times)
    if kind == "5xx":
        return Fault(route, "status", status=rng.choice([500, 502, 503, 504]), times=times)
    if kind == "accept_then_drop":
        return Fault(UPGRADE, "accept_then_drop")
    if kind == "new_instance":
        return Fault("GET /instances", "new_instance", times=times)
    if kind == "expire_tokens":
        return Fault(rng.choice(READ_ROUTES), "expire_tokens")
    return Fault(route, kind, times=times)  # type: ignore[arg-type]


def label(fault: Fault) -> str:
    """A fault's kind for the campaign's figures."""
    if fault.kind == "status":
        return f"{fault.status}" + ("+Retry-After" if "Retry-After" in fault.headers else "")
    return "timeout_then_accept" if fault.kind == "delay" else fault.kind


def scenario(number: int, planned: Counter[str]) -> tuple[list[str], int]:
    """Run one scenario; return the invariant violations and the faults that fired (``planned`` counts kinds)."""
    rng = random.Random(SEED + number)
    engines = ["cassandra", "influxdb", "redis", "mongodb"]
    size = rng.randint(101, 160) if rng.random() < 0.1 else rng.randint(1, 45)
    instances = [
        make_instance(
            rng,
            rng.choice(engines),
            patch_available=rng.random() < 0.85,
            status="normal" if rng.random() < 0.9 else "abnormal",
        )
        for _ in range(size)
    ]
    token_auth = rng.random() < 0.3
    document: dict[str, Any] = {"instances": instances, "credentials": IAM if token_auth else {}}
    document["reject_upgrades"] = {i["id"]: "DBS.200019" for i in instances if rng.random() < 0.05}
    request = {"mode": "apply", "max_in_flight": rng.choice(["100%", "50%", 5, 12]), "max_errors": 10_000}
    problems: list[str] = []
    with Simulator(document) as sim:
        environ = simulator_environment(sim, webhook_secret=new_webhook_secret())
        environ.pop("NOTIFY_WEBHOOK_URL")
        if token_auth:
            environ = {k: v for k, v in environ.items() if not k.startswith("HUAWEICLOUD_SDK_AK")}
            environ.pop("HUAWEICLOUD_SDK_SK")
            environ |= {
                "HUAWEICLOUD_IAM_USER": IAM["iam_user"],
                "HUAWEICLOUD_IAM_PASSWORD": IAM["iam_password"],
                "HUAWEICLOUD_IAM_DOMAIN": IAM["iam_domain"],
            }
        environ["HTTP_READ_TIMEOUT"] = str(READ_TIMEOUT)
        faults = [random_fault(rng, token_auth) for _ in range(rng.randint(0, 6))]
        planned.update(label(fault) for fault in faults)
        sim.state.faults.add(*faults)
        before = set(sim.state.backend.instances)
        runtime = Wiring(load_settings(environ), EnvironmentSecrets(environ), sleep=lambda seconds: None)
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                report = make_handler(environ, runtime)(request, LocalContext(timeout_ms=60_000))
        except Exception as error:  # any exception is a violation: the run must end with a report
            return [f"#{number}: raised {type(error).__name__}: {error}"], sim.state.faults.fired
        after = set(sim.state.backend.instances)
        jobs = list(sim.state.backend.jobs)
        posts = [e for e in sim.exchanges if e.route == UPGRADE and isinstance(e.body, dict)]
        fired = sim.state.faults.fired
    engine_of = {i["id"]: i["datastore"]["type"] for i in sim.state.backend.instances.values()}
    seen = Counter(o["instance_id"] for o in report["outcomes"])
    if any(count != 1 for count in seen.values()):
        problems.append(f"#{number}: an instance has several outcomes")
    if not report["errors"] and not before <= set(seen) <= after:
        problems.append(f"#{number}: outcomes do not cover the fleet ({len(seen)} of {len(before)})")
    if any(count > 1 for count in Counter(j.instance_id for j in jobs).values()):
        problems.append(f"#{number}: an instance has two upgrade jobs")
    for post in posts:
        ids = post.body.get("instance_ids", [])
        if not 1 <= len(ids) <= 10 or len({engine_of.get(i) for i in ids}) != 1:
            problems.append(f"#{number}: a batch call with {len(ids)} IDs or mixed engines")
    rollout = report.get("rollout")
    if rollout and len(jobs) > max(rollout["max_in_flight"] - rollout["in_flight_before"], 0):
        problems.append(f"#{number}: {len(jobs)} jobs exceed max_in_flight {rollout['max_in_flight']}")
    job_ids = {(j.instance_id, j.id) for j in jobs}
    for outcome in report["outcomes"]:
        if outcome["outcome"] == "submitted" and (outcome["instance_id"], outcome["job_id"]) not in job_ids:
            problems.append(f"#{number}: submitted without a job in the API")
    if '"message":"run_report"' not in out.getvalue():
        problems.append(f"#{number}: no run_report log record")
    return problems, fired


def test_fault_campaign_keeps_every_invariant() -> None:
    violations: list[str] = []
    faults = 0
    planned: Counter[str] = Counter()
    for number in range(SCENARIOS):
        problems, fired = scenario(number, planned)
        violations += problems
        faults += fired
    print(
        f"fault campaign: {SCENARIOS} scenarios, {faults} faults injected, {len(violations)} invariant violations; "
        f"faults planned by kind: {dict(sorted(planned.items()))}"
    )
    assert not violations, violations[:10]
    assert faults > SCENARIOS  # the campaign really injected faults
