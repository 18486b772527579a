"""SUBMIT_CONCURRENCY bounds every call of a run, however the reads and submissions overlap."""

from __future__ import annotations

import contextlib
import io
import random

import pytest
import requests

from geminidb_local.environment import new_webhook_secret
from geminidb_local.lambda_shim import LocalContext
from geminidb_local.simulator import Simulator
from tests.helpers import handler_on, make_instance

SECRET = new_webhook_secret()


@pytest.mark.parametrize("concurrency", [1, 3])
def test_no_more_calls_are_in_flight_than_submit_concurrency(concurrency: int) -> None:
    rng = random.Random(concurrency)
    fleet = {"instances": [make_instance(rng, ("cassandra", "redis")[n % 2]) for n in range(450)]}
    with Simulator(fleet, latency=0.02) as simulator:
        handler = handler_on(simulator, SECRET, SUBMIT_CONCURRENCY=str(concurrency))
        with contextlib.redirect_stdout(io.StringIO()):
            report = handler(
                {"mode": "apply", "window": "anytime", "max_in_flight": "100%", "notify": False}, LocalContext()
            )
        seen = requests.get(f"{simulator.base_url}/_sim/requests", timeout=10).json()

    assert report["counts"]["submitted"] == 450
    pages = sum(1 for exchange in seen["requests"] if exchange["route"] == "GET /instances")
    assert pages == 5  # the read phase had more work than slots: pages, jobs and tasks all at once
    assert 1 <= seen["peak_in_flight"] <= concurrency  # the limit is the property; reaching it is timing
