"""2,000 generated requests against the real handler: no 5xx, no unhandled exception, every answer JSON."""

from __future__ import annotations

import base64
import contextlib
import io
import itertools
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.lambda_shim import LocalContext, http_api_event, make_handler
from geminidb_local.simulator import Simulator
from geminidb_patcher.contract.signatures import sign_headers
from geminidb_patcher.entrypoints.handler import Handler
from tests.helpers import fleet_document

pytestmark = pytest.mark.slow

SECRET = new_webhook_secret()
EXAMPLES = 2000
_ids = st.one_of(
    st.from_regex(r"[0-9a-f]{32}in0[0-9]", fullmatch=True),
    st.text(max_size=40),
)
_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
_run_requests = st.fixed_dictionaries(
    {},
    optional={
        "mode": st.sampled_from(["plan", "apply", "Plan", "", "dry_run"]) | st.integers(),
        "instance_ids": st.lists(_ids, max_size=5) | st.text(max_size=5),
        "selector": st.fixed_dictionaries(
            {},
            optional={
                "engines": st.lists(st.sampled_from(["cassandra", "redis", "influxdb", "mongodb", ""]), max_size=4),
                "name": st.text(max_size=70),
                "tags": st.dictionaries(st.text(max_size=10), st.lists(st.text(max_size=10), max_size=2), max_size=3),
            },
        ),
        "targets": st.lists(
            st.fixed_dictionaries({"region": st.text(max_size=20), "project_id": st.text(max_size=40)}), max_size=3
        ),
        "window": st.sampled_from(["instance", "anytime", "never"])
        | st.fixed_dictionaries(
            {"start": st.text(max_size=8), "end": st.text(max_size=8), "timezone": st.text(max_size=30)}
        ),
        "max_in_flight": st.integers(-5, 200_000) | st.text(max_size=6),
        "max_errors": st.integers(-5, 10) | st.text(max_size=6),
        "bake": st.text(max_size=10) | st.integers(-100, 10**8),
        "waves": st.lists(st.fixed_dictionaries({"name": st.text(max_size=10)}), max_size=3),
        "expected_plan_id": st.text(max_size=20),
        "notify": st.booleans() | st.lists(st.text(max_size=8), max_size=2),
        "unknown": _json_values,
    },
)
_bodies = st.one_of(
    _run_requests.map(lambda d: json.dumps(d).encode()),
    _json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=200),
)
_header_values = st.text(alphabet=st.characters(blacklist_categories=["Cs"]), max_size=60)


_message_ids = itertools.count()
_odd_paths = st.sampled_from(["/openapi.json", "/runs/", "/", "/admin", "/RUNS"]) | st.text(max_size=20).map(
    lambda text: "/" + text
)


@st.composite
def signed_runs(draw: st.DrawFn) -> dict[str, Any]:
    """A correctly signed POST (fresh id, current time; usually to ``/runs``) with a generated body and content type."""
    body = draw(_bodies)
    headers = sign_headers(SECRET, f"msg_fuzz_{next(_message_ids)}", int(time.time()), body)
    headers["content-type"] = draw(
        st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "application/xml"])
    )
    path = draw(st.just("/runs") | _odd_paths)  # a signed request to another route is routed, and gets a 404
    event = http_api_event("POST", path, body, headers)
    if draw(st.booleans()):
        event["body"], event["isBase64Encoded"] = base64.b64encode(body).decode(), True
    return event


@st.composite
def anything(draw: st.DrawFn) -> dict[str, Any]:
    """Any method, path and headers, usually unsigned."""
    body = draw(_bodies)
    method = draw(st.sampled_from(["POST", "GET", "PUT", "DELETE", "PATCH"]))
    headers = draw(
        st.dictionaries(
            st.sampled_from(["content-type", "webhook-id", "webhook-timestamp", "webhook-signature", "x-other"]),
            _header_values,
            max_size=5,
        )
    )
    return http_api_event(method, draw(st.just("/runs") | _odd_paths), body, headers)


requests_ = st.one_of(signed_runs(), signed_runs(), signed_runs(), anything())


@pytest.fixture(scope="module")
def handler() -> Iterator[Handler]:
    with Simulator(fleet_document(3)) as sim:
        environ = simulator_environment(sim, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        yield make_handler(environ)


@pytest.fixture(scope="module")
def outcomes() -> Iterator[dict[int, int]]:
    """Statuses seen; checked once the fuzz test has run all its examples."""
    seen: dict[int, int] = {}
    yield seen
    total = sum(seen.values())
    print(f"webhook fuzz: {total} requests, statuses {dict(sorted(seen.items()))}")
    assert total >= EXAMPLES and {200, 401, 404, 415, 422}.issubset(seen) and max(seen) < 500


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(event=requests_)
def test_fuzzed_requests_never_get_a_5xx_and_always_json(
    handler: Handler, outcomes: dict[int, int], event: dict[str, Any]
) -> None:
    with contextlib.redirect_stdout(io.StringIO()):
        result = handler(event, LocalContext())
    status = int(result["statusCode"])
    outcomes[status] = outcomes.get(status, 0) + 1
    assert status < 500, result
    assert isinstance(json.loads(result["body"]), dict)
