"""Overlapping applies through the real handlers, on a simulator that checks and creates without a lock.

Each handler is its own container (its own wiring, its own memory); they share only the lease table on a DynamoDB
API emulator, as two Lambda functions share it on AWS.
"""

from __future__ import annotations

import contextlib
import io
import json
import random
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext, signed_run_event
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.entrypoints.cli.main import main
from geminidb_patcher.errors import EXIT_BUSY, EXIT_OK
from tests.helpers import LEASE_CREDENTIALS, environment_for, handler_on, lease_table, make_instance

SECRET = new_webhook_secret()
SUBMIT = "POST /instances/db-upgrade"
APPLY = {"mode": "apply", "window": "anytime", "max_in_flight": "100%"}


def racing_fleet(count: int = 6, seed: int = 1, engines: tuple[str, ...] = ("cassandra",)) -> dict[str, Any]:
    rng = random.Random(seed)
    instances = [make_instance(rng, engines[i % len(engines)]) for i in range(count)]
    return {"instances": instances, "behaviour": {"atomic_upgrade_check": False}}


def guarded(endpoint: str, **extra: str) -> dict[str, str]:
    """The lease settings of both functions, as the template sets them, on the emulator."""
    return {
        "PATCHER_LOCK_TABLE": lease_table(endpoint).table,
        "AWS_REGION": "eu-west-1",
        "AWS_ENDPOINT_URL_DYNAMODB": endpoint,
        "PATCHER_LOCK_WAIT_SECONDS": "0",
        **LEASE_CREDENTIALS,
        **extra,
    }


def together(*calls: Callable[[], Any]) -> list[Any]:
    """Run ``calls`` at the same moment, each in its own thread; their results in order."""
    results: list[Any] = [None] * len(calls)
    barrier = threading.Barrier(len(calls))

    def one(index: int) -> None:
        barrier.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=one, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def sent_ids(simulator: Simulator) -> Counter[str]:
    return Counter(i for e in simulator.exchanges if e.route == SUBMIT for i in e.body["instance_ids"])


def upgrade_jobs(simulator: Simulator) -> Counter[str]:
    return Counter(job["instance"]["id"] for job in simulator.state.backend.snapshot()["jobs"])


PLAN = {"mode": "plan", "window": "anytime", "max_in_flight": "100%"}


def scheduled(simulator: Simulator, environ_extra: dict[str, str], request: dict[str, Any], run_id: str) -> Any:
    """A scheduled function's container, warm (it ran a plan), ready to run ``request``."""
    handler = handler_on(simulator, SECRET, **environ_extra)
    handler(dict(PLAN), LocalContext())
    return lambda: handler(dict(request), LocalContext(aws_request_id=run_id))


def webhook(simulator: Simulator, environ_extra: dict[str, str], request: dict[str, Any], run_id: str) -> Any:
    """A webhook function's container, warm, ready to receive ``request`` signed."""
    handler = handler_on(simulator, SECRET, **environ_extra)
    handler(signed_run_event(SECRET, json.dumps(PLAN).encode()), LocalContext())
    event = signed_run_event(SECRET, json.dumps(request).encode())
    return lambda: handler(event, LocalContext(aws_request_id=run_id))


def report_of(answer: dict[str, Any]) -> dict[str, Any]:
    """The report inside a webhook answer, or the scheduled function's answer itself."""
    return json.loads(answer["body"]) if "statusCode" in answer else answer


def test_without_the_lease_two_overlapping_applies_send_the_same_instances_twice() -> None:
    """The control: what the lease prevents happens here, on this simulator, with these two runs."""
    with Simulator(racing_fleet()) as simulator:
        simulator.state.faults.add(Fault(SUBMIT, "delay", delay=0.5, times=2))
        together(scheduled(simulator, {}, APPLY, "run-a"), webhook(simulator, {}, APPLY, "run-b"))
        assert max(sent_ids(simulator).values()) == 2
        assert max(upgrade_jobs(simulator).values()) == 2


@pytest.mark.parametrize(
    "pair",
    [("scheduled", "webhook"), ("webhook", "webhook")],
)
def test_two_overlapping_applies_send_each_instance_once_and_the_loser_names_the_holder(
    dynamodb_endpoint: str, pair: tuple[str, str]
) -> None:
    with Simulator(racing_fleet()) as simulator:
        simulator.state.faults.add(Fault(SUBMIT, "delay", delay=0.5, times=2))
        extra = guarded(dynamodb_endpoint)
        makers = {"scheduled": scheduled, "webhook": webhook}
        answers = together(*(makers[kind](simulator, extra, APPLY, f"run-{i}") for i, kind in enumerate(pair)))
        ids = sent_ids(simulator)
        assert sorted(ids.values()) == [1] * 6  # every instance sent, none twice
        assert set(upgrade_jobs(simulator).values()) == {1}
        reports = [report_of(answer) for answer in answers]
        (winner,) = [r for r in reports if r["counts"]["submitted"] == 6]
        (loser_index,) = [i for i, r in enumerate(reports) if r is not winner]
        loser = reports[loser_index]
        assert loser["counts"]["submitted"] == 0 and loser["counts"]["deferred"] == 6
        assert {o["reason"] for o in loser["outcomes"]} == {"another_run_applying"}
        assert all(f"run {winner['run_id']} ({winner['trigger']}), since " in o["detail"] for o in loser["outcomes"])
        assert any(winner["run_id"] in note for note in loser["notes"])
        assert loser["rollout"]["errors_this_run"] == 0 and loser["errors"] == []
        if pair[loser_index] == "webhook":
            answer = answers[loser_index]
            assert answer["statusCode"] == 409 and answer["headers"]["Retry-After"] == "60"
            assert json.loads(answer["body"])["error"] == "another_run_applying"


def test_the_cli_and_a_schedule_overlapping_send_each_instance_once(dynamodb_endpoint: str) -> None:
    with Simulator(racing_fleet()) as simulator:
        simulator.state.faults.add(Fault(SUBMIT, "delay", delay=0.5, times=2))
        extra = guarded(dynamodb_endpoint)
        environ = environment_for(simulator, SECRET, **extra)

        def terminal() -> int:
            with contextlib.redirect_stdout(io.StringIO()):
                argv = ["apply", "--yes", "--window", "anytime", "--max-in-flight", "100%"]
                return main(argv, environ, out=io.StringIO(), err=io.StringIO())

        code, answer = together(terminal, scheduled(simulator, extra, APPLY, "run-schedule"))
        assert sorted(sent_ids(simulator).values()) == [1] * 6
        if answer["counts"]["submitted"] == 6:
            assert code == EXIT_BUSY
        else:
            assert code == EXIT_OK and {o["reason"] for o in answer["outcomes"]} == {"another_run_applying"}


def test_max_in_flight_holds_across_two_runs_with_different_scopes(dynamodb_endpoint: str) -> None:
    document = racing_fleet(12, engines=("cassandra", "redis"))
    with Simulator(document) as simulator:
        simulator.state.faults.add(Fault(SUBMIT, "delay", delay=0.3, times=2))
        extra = guarded(dynamodb_endpoint, PATCHER_LOCK_WAIT_SECONDS="20")
        first = {"mode": "apply", "window": "anytime", "selector": {"engines": ["cassandra"]}, "max_in_flight": 5}
        second = {**first, "selector": {"engines": ["redis"]}}
        answers = together(
            scheduled(simulator, extra, first, "run-cassandra"), webhook(simulator, extra, second, "run-redis")
        )
        reports = [report_of(answer) for answer in answers]
        # 10 without the lease (each run saw nothing running), or if the later run read the jobs as of its start
        assert len(upgrade_jobs(simulator)) == 5, [(r["counts"], r["rollout"], r["notes"]) for r in reports]
        assert sorted(r["counts"]["submitted"] for r in reports) == [0, 5]
        (later,) = [r for r in reports if r["counts"]["submitted"] == 0]
        assert {o["reason"] for o in later["outcomes"]} == {"max_in_flight"}
        assert later["rollout"]["in_flight_before"] == 5


CHILD = """
import json, sys
from geminidb_local.lambda_shim import LocalContext, make_handler
make_handler(json.loads(sys.argv[1]))({"mode": "apply", "window": "anytime"}, LocalContext(aws_request_id="killed-run"))
"""


def test_a_killed_holder_blocks_the_next_run_until_its_lease_expires_not_after(dynamodb_endpoint: str) -> None:
    with Simulator(racing_fleet(3)) as simulator:
        extra = guarded(dynamodb_endpoint, PATCHER_LOCK_TERM_SECONDS="5")
        simulator.state.faults.add(Fault("GET /instances", "delay", delay=30))  # the holder hangs while observing
        environ = environment_for(simulator, SECRET, **extra)
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, json.dumps(environ)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        try:
            lease = _wait_for_lease(dynamodb_endpoint, extra["PATCHER_LOCK_TABLE"])
        finally:
            child.kill()
            child.wait()
        simulator.state.faults.clear()
        before = scheduled(simulator, extra, APPLY, "run-before")()
        assert time.time() < lease["expires_at"]
        assert before["counts"]["submitted"] == 0
        assert {o["reason"] for o in before["outcomes"]} == {"another_run_applying"}
        assert "run killed-run (direct)" in before["outcomes"][0]["detail"]
        time.sleep(max(0.0, lease["expires_at"] - time.time()) + 1.1)
        after = scheduled(simulator, extra, APPLY, "run-after")()
        assert after["counts"]["submitted"] == 3 and not any("killed-run" in note for note in after["notes"])


def _wait_for_lease(endpoint: str, table_name: str) -> dict[str, Any]:
    """The first apply lease written to ``table_name``: who holds it and when it expires."""
    table = lease_table(endpoint, table_name, create=False)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        items = table.call("Scan", {"ConsistentRead": True}).get("Items", [])
        if items:
            item = items[0]
            return {"run_id": item["run_id"]["S"], "expires_at": float(item["expires_at"]["N"])}
        time.sleep(0.05)
    raise AssertionError("the child never took the lease")


def test_a_webhook_replayed_to_a_fresh_container_is_refused_there_too(dynamodb_endpoint: str) -> None:
    with Simulator(racing_fleet(2)) as simulator:
        extra = guarded(dynamodb_endpoint)
        event = signed_run_event(SECRET, json.dumps(PLAN).encode())
        first = handler_on(simulator, SECRET, **extra)(dict(event), LocalContext())
        replayed = handler_on(simulator, SECRET, **extra)(dict(event), LocalContext())  # another container
        assert first["statusCode"] == 200
        assert replayed["statusCode"] == 409 and json.loads(replayed["body"])["error"] == "already_used"
        unguarded = handler_on(simulator, SECRET)(dict(event), LocalContext())
        assert unguarded["statusCode"] == 200  # without the table the guard is per container (README)


def test_a_refused_webhook_may_be_sent_again_with_its_id_to_any_container(dynamodb_endpoint: str) -> None:
    with Simulator(racing_fleet(2)) as simulator:
        extra = guarded(dynamodb_endpoint)
        bad = signed_run_event(SECRET, json.dumps({"mode": "plan", "window": "sometimes"}).encode(), msg_id="msg_x")
        good = signed_run_event(SECRET, json.dumps(PLAN).encode(), msg_id="msg_x")
        assert handler_on(simulator, SECRET, **extra)(bad, LocalContext())["statusCode"] == 422
        assert handler_on(simulator, SECRET, **extra)(good, LocalContext())["statusCode"] == 200


def test_an_unreachable_table_fails_closed_for_applies_and_replays_but_not_for_plans() -> None:
    with Simulator(racing_fleet(3)) as simulator:
        extra = {
            "PATCHER_LOCK_TABLE": "lock-table-7f3a",  # a name no test secret can be part of
            "AWS_REGION": "eu-west-1",
            "AWS_ENDPOINT_URL_DYNAMODB": "http://127.0.0.1:9",
            **LEASE_CREDENTIALS,
        }
        handler = handler_on(simulator, SECRET, **extra)
        applied = handler(dict(APPLY), LocalContext())
        assert not [e for e in simulator.exchanges if e.route == SUBMIT]
        assert applied["counts"]["submitted"] == 0 and not applied["complete"]
        (error,) = applied["errors"]
        assert error["error_code"] == "LeaseUnavailable" and "lock-table-7f3a" in error["error_message"]
        assert LEASE_CREDENTIALS["AWS_SECRET_ACCESS_KEY"] not in json.dumps(applied)
        planned = handler(dict(PLAN), LocalContext())
        assert planned["counts"]["planned"] == 3 and planned["errors"] == []
        refused = handler(signed_run_event(SECRET, json.dumps(PLAN).encode()), LocalContext())
        assert refused["statusCode"] == 503 and refused["headers"]["Retry-After"]
        assert json.loads(refused["body"])["error"] == "replay_guard_unavailable"


def test_without_a_table_an_apply_says_it_was_not_guarded() -> None:
    with Simulator(racing_fleet(1)) as simulator:
        report = handler_on(simulator, SECRET)(dict(APPLY), LocalContext())
        assert any("not guarded" in note and "PATCHER_LOCK_TABLE" in note for note in report["notes"])
        assert report["counts"]["submitted"] == 1
