"""Time and uncertainty: reads within the deadline, unreachable hosts fail fast, late acceptances confirmed."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, make_handler
from geminidb_local.simulator import Fault, Simulator
from geminidb_patcher.config.secrets import EnvironmentSecrets
from geminidb_patcher.config.settings import load_settings
from geminidb_patcher.config.wiring import Wiring
from geminidb_patcher.entrypoints.handler import Handler
from geminidb_patcher.notify.base import NotificationError, Sender
from tests.helpers import fleet_document, handler_on

SECRET = new_webhook_secret()
PROJECT = "0123456789abcdef0123456789abcdef"
SUBMIT_ROUTE = "POST /instances/db-upgrade"


def handler_for(sim: Simulator, **extra: str) -> Handler:
    return handler_on(sim, SECRET, **extra)


@pytest.fixture
def silent_host() -> Iterator[str]:
    """A loopback port that accepts connections and never answers (a black-holed endpoint)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.1)
        while not stop.is_set():
            try:
                held.append(server.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(1)
    for connection in held:
        connection.close()
    server.close()


def closed_port() -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


@pytest.mark.slow
def test_many_unreachable_targets_end_before_the_deadline_naming_each_host(silent_host: str) -> None:
    regions = [f"xx-test-{n}" for n in range(1, 20)]
    refused = closed_port()
    endpoints = {region: (silent_host if n % 2 else refused) for n, region in enumerate(regions)}
    with Simulator(fleet_document(3)) as sim:
        endpoints["ap-southeast-1"] = sim.base_url
        handler = handler_for(sim, GEMINIDB_ENDPOINTS=json.dumps(endpoints), DEADLINE_MARGIN_MS="4000")
        targets = [{"region": region, "project_id": PROJECT} for region in ["ap-southeast-1", *regions]]
        context = LocalContext(timeout_ms=8000)
        report = handler({"mode": "apply", "window": "anytime", "targets": targets}, context)
        # THEN the report came back before the invocation's deadline, the reachable target was observed, and
        # every other target is an error that names its host
        assert context.get_remaining_time_in_millis() > 0
        assert {o["region"] for o in report["outcomes"]} == {"ap-southeast-1"}
        errors = {error["region"]: error["error_message"] for error in report["errors"]}
        assert set(errors) == set(regions)
        for region, message in errors.items():
            assert endpoints[region].removeprefix("http://") in message, message


def test_an_answer_lost_to_a_read_timeout_is_confirmed_when_the_jobs_appear() -> None:
    with Simulator(fleet_document(1)) as sim:
        sim.state.faults.add(Fault(SUBMIT_ROUTE, "delay", delay=2.5))  # the job is created after 2.5 s
        handler = handler_for(sim, HTTP_READ_TIMEOUT="1")
        report = handler({"mode": "apply", "window": "anytime"}, LocalContext())
        (outcome,) = report["outcomes"]
        assert outcome["outcome"] == "submitted" and outcome["job_id"]
        assert "re-observation found the upgrade job" in outcome["detail"]
        assert len([e for e in sim.exchanges if e.route == SUBMIT_ROUTE]) == 1  # never resent


def test_a_submission_that_never_shows_a_job_is_failed_as_unconfirmed() -> None:
    with Simulator(fleet_document(1)) as sim:
        sim.state.faults.add(Fault(SUBMIT_ROUTE, "drop"))  # the connection closes after the request was sent
        environ = simulator_environment(sim, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        pauses: list[float] = []
        runtime = Wiring(load_settings(environ), EnvironmentSecrets(environ), sleep=pauses.append)
        report = make_handler(environ, runtime)({"mode": "apply", "window": "anytime"}, LocalContext())
        (outcome,) = report["outcomes"]
        assert outcome["outcome"] == "failed"
        assert outcome["detail"].startswith("Unconfirmed: the call failed after the request may have reached Huawei")
        assert "within 15 s" in outcome["detail"] and "Check its UpgradeDbVersion jobs" in outcome["detail"]
        assert pauses == [1.0, 2.0, 4.0, 8.0]  # re-read with backoff, not once
        reads = [e for e in sim.exchanges if e.route == "GET /jobs" and not {"status", "name"} & set(e.query)]
        assert len(reads) == 5


class _Session:
    """Records posts and fails each with the given exception or status."""

    def __init__(self, *failures: Any) -> None:
        self.failures = list(failures)
        self.posts = 0

    def post(self, *args: Any, **kwargs: Any) -> Any:
        self.posts += 1
        failure = self.failures.pop(0) if self.failures else 200
        if isinstance(failure, Exception):
            raise failure
        response = requests.Response()
        response.status_code = failure
        response._content = b"{}"
        response._content_consumed = True  # a body already read, as requests keeps it after a stream
        return response


@pytest.mark.parametrize(
    ("failure", "posts"),
    [
        (requests.ReadTimeout("read timed out"), 1),  # sent: may have arrived
        (500, 1),
        (503, 1),
        (requests.ConnectTimeout("connect timed out"), 3),  # never sent: tried again
        (429, 3),
    ],
)
def test_a_notification_that_may_have_arrived_is_never_sent_again(failure: Any, posts: int) -> None:
    session = _Session(failure, failure, failure)
    sender = Sender(session, sleep=lambda seconds: None)  # type: ignore[arg-type]
    with pytest.raises(NotificationError):
        sender.post("ops", "https://hooks.example.com/x", b"{}")
    assert session.posts == posts
