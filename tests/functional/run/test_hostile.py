"""Hand-written attacks on the webhook, over real HTTP through the local gateway: every one refused, nothing run."""

from __future__ import annotations

import base64
import contextlib
import io
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from geminidb_local.environment import new_webhook_secret, simulator_environment
from geminidb_local.gateway_server import LocalGateway
from geminidb_local.lambda_shim import LocalContext, http_api_event, make_handler
from geminidb_local.simulator import Simulator
from geminidb_patcher.contract.signatures import sign_headers
from tests.helpers import fleet_document

SECRET = new_webhook_secret()
OTHER = new_webhook_secret()
GOOD = b'{"mode": "plan"}'
JSON = {"Content-Type": "application/json"}


@pytest.fixture(scope="module")
def gateway() -> Iterator[tuple[str, Simulator]]:
    with Simulator(fleet_document(6)) as sim:
        environ = simulator_environment(sim, webhook_secret=f"{OTHER} {SECRET}")
        environ.pop("NOTIFY_WEBHOOK_URL")
        handler = make_handler(environ)
        with LocalGateway(handler) as local, contextlib.redirect_stdout(io.StringIO()):
            yield local.base_url, sim


def signed(body: bytes, *, msg_id: str | None = None, at: int | None = None, secret: str = SECRET) -> dict[str, str]:
    return {**JSON, **sign_headers(secret, msg_id or f"msg_{time.monotonic_ns()}", at or int(time.time()), body)}


def post(url: str, body: bytes, headers: dict[str, str], path: str = "/runs") -> requests.Response:
    return requests.post(f"{url}{path}", data=body, headers=headers, timeout=30)


def upgrade_posts(sim: Simulator) -> int:
    return sum(1 for e in sim.exchanges if e.route == "POST /instances/db-upgrade")


def headers_without(name: str) -> dict[str, str]:
    return {k: v for k, v in signed(GOOD).items() if k != name}


HOSTILE_HEADERS: dict[str, Any] = {
    "missing id": lambda: headers_without("webhook-id"),
    "missing timestamp": lambda: headers_without("webhook-timestamp"),
    "missing signature": lambda: headers_without("webhook-signature"),
    "garbled signature": lambda: {**signed(GOOD), "webhook-signature": "v1,@@@not-base64@@@"},
    "v2 scheme only": lambda: {**signed(GOOD), "webhook-signature": "v2," + signed(GOOD)["webhook-signature"][3:]},
    "empty signature": lambda: {**signed(GOOD), "webhook-signature": ""},
    "signature for another body": lambda: signed(b'{"mode": "apply"}'),
    "signed with an unknown secret": lambda: signed(GOOD, secret=new_webhook_secret()),
    "stale timestamp": lambda: signed(GOOD, at=int(time.time()) - 301),
    "future timestamp": lambda: signed(GOOD, at=int(time.time()) + 301),
    "timestamp not a number": lambda: {**signed(GOOD), "webhook-timestamp": "1e9"},
    "negative timestamp": lambda: {**signed(GOOD), "webhook-timestamp": "-5"},
    "huge id": lambda: signed(GOOD, msg_id="m" * 300),
    "a thousand signatures": lambda: {**signed(GOOD), "webhook-signature": " ".join(["v1,AAAA"] * 1000)},
}


@pytest.mark.parametrize("case", HOSTILE_HEADERS)
def test_bad_signature_headers_get_401_without_detail(gateway: tuple[str, Simulator], case: str) -> None:
    url, sim = gateway
    headers = HOSTILE_HEADERS[case]()
    before = upgrade_posts(sim)
    response = post(url, GOOD, headers)
    assert response.status_code == 401, case
    assert response.json() == {
        "error": "unauthorized",
        "message": "The request is not signed with a valid webhook signature.",
    }
    assert upgrade_posts(sim) == before


def test_duplicated_signature_headers_still_need_one_valid_signature(gateway: tuple[str, Simulator]) -> None:
    url, _ = gateway
    good = signed(GOOD)
    doubled = {**good, "webhook-signature": f"v1,AAAA {good['webhook-signature']} v1,BBBB"}
    assert post(url, GOOD, doubled).status_code == 200
    rotated_old = signed(GOOD, secret=OTHER)
    assert post(url, GOOD, rotated_old).status_code == 200  # both rotation secrets are accepted


def test_replayed_request_is_refused(gateway: tuple[str, Simulator]) -> None:
    url, _ = gateway
    headers = signed(GOOD, msg_id="msg_replay_me")
    assert post(url, GOOD, headers).status_code == 200
    assert post(url, GOOD, headers).status_code == 409  # refused, and the signed sender is told why


def test_oversize_body_is_413_before_anything_else(gateway: tuple[str, Simulator]) -> None:
    url, _ = gateway
    body = json.dumps({"mode": "plan", "selector": {"name": "x" * 70_000}}).encode()
    response = post(url, body, signed(body))
    assert response.status_code == 413 and response.json()["error"] == "body_too_large"


def test_deep_json_nesting_is_422_not_a_crash(gateway: tuple[str, Simulator]) -> None:
    url, _ = gateway
    body = b'{"mode": "plan", "x": ' + b"[" * 20_000 + b"]" * 20_000 + b"}"
    response = post(url, body, signed(body))
    assert response.status_code == 422 and response.json()["error"] == "invalid_json"


@pytest.mark.parametrize(
    "ids",
    [
        ["../../instances/db-upgrade"],
        ["0123456789abcdef0123456789abcdefin06?limit=1000"],
        ["0123456789abcdef0123456789abcdefin06%2F..%2F"],
        ["0123456789abcdef0123456789abcdefin06\n"],
        ["\uff10\uff11\uff12\uff13456789abcdef0123456789abcdefin06"],  # full-width digits
        ["0123456789abcdef0123456789abcdefin06\u200b"],
    ],
)
def test_path_and_query_injection_or_unicode_tricks_in_ids_are_422(
    gateway: tuple[str, Simulator], ids: list[str]
) -> None:
    url, sim = gateway
    body = json.dumps({"mode": "apply", "instance_ids": ids}).encode()
    before = len(sim.exchanges)
    response = post(url, body, signed(body))
    assert response.status_code == 422
    assert [p["field"] for p in response.json()["problems"]] == ["instance_ids.0"]
    assert len(sim.exchanges) == before  # nothing reached the API


@pytest.mark.parametrize(
    "target",
    [
        {"region": "ap-southeast-1/../../x", "project_id": "0" * 32},
        {"region": "ap-southeast-1", "project_id": "0" * 31 + "?"},
    ],
)
def test_injection_in_targets_is_422(gateway: tuple[str, Simulator], target: dict[str, str]) -> None:
    url, _ = gateway
    body = json.dumps({"mode": "plan", "targets": [target]}).encode()
    assert post(url, body, signed(body)).status_code == 422


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/jsonp", ""])
def test_wrong_content_type_is_415(gateway: tuple[str, Simulator], content_type: str) -> None:
    url, _ = gateway
    headers = {**signed(GOOD), "Content-Type": content_type}
    response = post(url, GOOD, headers)
    assert response.status_code == 415 and response.json()["error"] == "unsupported_media_type"


def test_unknown_fields_and_too_many_ids_are_422(gateway: tuple[str, Simulator]) -> None:
    url, _ = gateway
    body = json.dumps({"mode": "plan", "dry_run": True}).encode()
    assert post(url, body, signed(body)).status_code == 422
    ids = [f"{n:032x}in06" for n in range(1001)]
    body = json.dumps({"mode": "plan", "instance_ids": ids}).encode()
    assert post(url, body, signed(body)).status_code == 422


def test_base64_bodies_are_verified_over_the_decoded_bytes() -> None:
    with Simulator(fleet_document(3)) as sim:
        environ = simulator_environment(sim, webhook_secret=SECRET)
        environ.pop("NOTIFY_WEBHOOK_URL")
        handler = make_handler(environ)
        event = http_api_event("POST", "/runs", GOOD, signed(GOOD))
        event["body"], event["isBase64Encoded"] = base64.b64encode(GOOD).decode(), True
        with contextlib.redirect_stdout(io.StringIO()):
            assert handler(event, LocalContext())["statusCode"] == 200
            event = http_api_event("POST", "/runs", GOOD, signed(GOOD))
            event["body"], event["isBase64Encoded"] = "!!not base64!!", True
            assert handler(event, LocalContext())["statusCode"] == 401


def test_direct_event_headers_the_http_client_cannot_send_are_refused() -> None:
    with Simulator(fleet_document(3)) as sim:
        environ = simulator_environment(sim, webhook_secret=SECRET)
        handler = make_handler(environ)
        for name, value in (("webhook-id", "msg\u0007bell"), ("webhook-timestamp", "١٧٦٤٢٠٥٢٠٠")):
            event = http_api_event("POST", "/runs", GOOD, {**signed(GOOD), name: value})
            with contextlib.redirect_stdout(io.StringIO()):
                assert handler(event, LocalContext())["statusCode"] == 401


def test_iam_mode_requires_an_iam_principal_from_api_gateway() -> None:
    with Simulator(fleet_document(3)) as sim:
        environ = simulator_environment(sim, webhook_secret=SECRET) | {"WEBHOOK_AUTH": "iam"}
        environ.pop("NOTIFY_WEBHOOK_URL")
        handler = make_handler(environ)
        unsigned = http_api_event("POST", "/runs", GOOD, JSON)
        with contextlib.redirect_stdout(io.StringIO()):
            assert handler(unsigned, LocalContext())["statusCode"] == 401
            unsigned["requestContext"]["authorizer"] = {
                "iam": {"accessKey": "ASIA…", "userArn": "arn:aws:iam::1:user/ops"}
            }
            assert handler(unsigned, LocalContext())["statusCode"] == 200
